/**
 * The fast path of `baton token REF` (SPEC §7: a valid token costs little more than starting Node). When the stored
 * token is fresh, printing it needs one read of the account's secret file — exactly the I/O needed to notice a newer
 * generation (SPEC §3 step 1) — and none of the protocol's machinery, so this module loads nothing but Node, the
 * core's name rule and timing policy, and the file stores' own secure reads (`@baton/adapters/home-files`): the
 * registry and the secret record are read by exactly the rules of the full path (no symlink followed anywhere below
 * BATON_HOME, loose modes repaired with the same warning). It applies to file storage only (BATON_STORAGE=file) and
 * to exactly `token REF` (lean-invocation.ts). Anything else — a refused path, a token that is not fresh, an unusual record — answers "not
 * handled" and the full CLI takes over, with its checks and its error messages.
 */

import { accountParts, CONFIG_FILE, readHomeFile, resolveHome, SECRET_FILE } from "@baton/adapters/home-files";
import { isValidName } from "@baton/core/account-name";
import { freshness } from "@baton/core/policy";
import { logLine } from "./log-line.ts";

type Warn = (message: string) => void;

/**
 * The account a reference names, if the provider is registered: the named account, or the provider's default.
 * `undefined` (hand over to the full CLI) for an unregistered provider or a registry that is not plain JSON.
 */
const registeredAccount = (home: string, provider: string, named: string | undefined, warn: Warn) => {
  const file = readHomeFile(home, [], CONFIG_FILE, warn);
  if (file === undefined) return undefined;
  const config = JSON.parse(file.bytes.toString("utf8")) as {
    providers?: Record<string, unknown>;
    defaults?: Record<string, unknown>;
  };
  if (config.providers === undefined || !Object.hasOwn(config.providers, provider)) return undefined;
  const account = named ?? config.defaults?.[provider];
  return typeof account === "string" && isValidName(account) ? account : undefined;
};

/** The access token of a version-1 secret record that is fresh now; `undefined` otherwise. */
const freshAccessToken = (bytes: Buffer): string | undefined => {
  const { accessToken, expiresAt, obtainedAt, version } = JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
  if (version !== 1 || typeof accessToken !== "string" || accessToken === "") return undefined;
  if (typeof expiresAt !== "number" || typeof obtainedAt !== "number") return undefined;
  return freshness({ expiresAt, obtainedAt }, Date.now()) === "fresh" ? accessToken : undefined;
};

/** Prints the token of `baton token REF` and returns true when the fast path applies; false hands over. */
export const tryFastToken = (ref: string, env: NodeJS.ProcessEnv = process.env): boolean => {
  if (env.BATON_STORAGE !== "file" || env.BATON_DEBUG === "1") return false;
  const [provider = "", named, ...rest] = ref.split(":");
  if (rest.length > 0 || !isValidName(provider) || (named !== undefined && !isValidName(named))) return false;
  // Repairs (a loosened mode) happen while reading, as on the full path, and are reported whoever answers.
  const warnings: Array<string> = [];
  const warn: Warn = (message) => warnings.push(message);
  try {
    const home = resolveHome(env);
    const account = registeredAccount(home, provider, named, warn);
    if (account === undefined) return false;
    const file = readHomeFile(home, accountParts(home, { provider, account }), SECRET_FILE, warn);
    const token = file === undefined ? undefined : freshAccessToken(file.bytes);
    if (token === undefined) return false;
    process.stdout.write(`${token}\n`);
    return true;
  } catch {
    return false;
  } finally {
    for (const message of warnings) process.stderr.write(logLine("warn", message, undefined));
  }
};
