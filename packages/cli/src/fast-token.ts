/**
 * The fast path of `baton token REF` (SPEC §7: a valid token costs little more than starting Node). When the
 * stored token is fresh, printing it needs one read of the account's secret file — exactly the I/O needed to notice
 * a newer generation (SPEC §3 step 1) — and none of the protocol's machinery, so this module loads nothing but
 * `node:fs` and the pure timing policy; it applies to file storage only (BATON_STORAGE=file). Anything unusual (not fresh, a flag, an unreadable or odd
 * file, a symlink) answers "not handled" and the full CLI takes over, with its checks and its error messages.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { resolveHome } from "@baton/adapters/home-files";
import { isValidName } from "@baton/core/account-name";
import { freshness } from "@baton/core/policy";

/** Reads a regular file owned by us without following a symlink; `undefined` on anything unexpected. */
const readPlainFile = (path: string): string | undefined => {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    const stat = fstatSync(fd);
    if (!stat.isFile() || (stat.mode & 0o077) !== 0) return undefined;
    return readFileSync(fd, "utf8");
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
};

/**
 * The account a reference names, if the provider is registered: the named account, or the provider's default.
 * `undefined` (hand over to the full CLI) for an unregistered provider or an unreadable registry.
 */
const registeredAccount = (home: string, provider: string, named: string | undefined): string | undefined => {
  const text = readPlainFile(join(home, "config.json"));
  if (text === undefined) return undefined;
  try {
    const config = JSON.parse(text) as { providers?: Record<string, unknown>; defaults?: Record<string, unknown> };
    if (config.providers === undefined || !Object.hasOwn(config.providers, provider)) return undefined;
    const account = named ?? config.defaults?.[provider];
    return typeof account === "string" && isValidName(account) ? account : undefined;
  } catch {
    return undefined;
  }
};

/** Prints the token and returns true when the fast path applies; false hands over to the full CLI. */
export const tryFastToken = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env): boolean => {
  if (args.length !== 2 || args[0] !== "token" || env.BATON_STORAGE !== "file" || env.BATON_DEBUG === "1") return false;
  const ref = args[1] ?? "";
  const [provider = "", named, ...rest] = ref.split(":");
  if (rest.length > 0 || !isValidName(provider) || (named !== undefined && !isValidName(named))) return false;
  const home = resolveHome(env);
  const account = registeredAccount(home, provider, named);
  if (account === undefined) return false;
  const text = readPlainFile(join(home, "accounts", provider, account, "secret.json"));
  if (text === undefined) return false;
  try {
    const record = JSON.parse(text) as Record<string, unknown>;
    const { accessToken, expiresAt, obtainedAt, version } = record;
    if (version !== 1 || typeof accessToken !== "string" || accessToken === "") return false;
    if (typeof expiresAt !== "number" || typeof obtainedAt !== "number") return false;
    if (freshness({ expiresAt, obtainedAt }, Date.now()) !== "fresh") return false;
    process.stdout.write(`${accessToken}\n`);
    return true;
  } catch {
    return false;
  }
};
