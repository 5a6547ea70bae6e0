/**
 * BATON_HOME: where it is, what it holds, and the secure synchronous read of its files. This module loads nothing but
 * Node and the core's name rule, so that start-up-critical code — the `baton token` fast path, through
 * `@baton/adapters/home-files` — reads exactly by the file stores' rules (secure-read.ts) without loading Effect.
 *
 *   config.json                                 the provider registry (0600)
 *   accounts/<provider>/<account>/secret.json   the secret record (0600)
 *   accounts/<provider>/<account>/events.log    the event log (0600)
 *   accounts/<provider>/<account>/claims/       claim records
 *   accounts/<provider>/<account>/refresh.lock  proper-lockfile's lock directory
 *   sessions/                                   records of running `exec`s and embedded hosts
 *   quarantine/                                 corrupt files moved aside, under timestamped names
 *
 * Provider and account names must follow the core's name rule before they become path components.
 */
import { readdir } from "node:fs/promises";
import { homedir, platform } from "node:os";
import { join, sep } from "node:path";
import { isValidName } from "@baton/core/account-name";
import { FsProblem, type Warn } from "./fs-base.ts";
import { lstatSyncOrUndefined, readSmallFile, type SmallFile, secureDirSync } from "./secure-read.ts";

/**
 * Where baton keeps its state: `BATON_HOME` when set, else the OS convention — `$XDG_STATE_HOME/baton` (default
 * `~/.local/state/baton`) on Linux and other Unixes, `~/Library/Application Support/baton` on macOS,
 * `%LOCALAPPDATA%\baton` on Windows.
 */
export const resolveHome = (env: NodeJS.ProcessEnv = process.env): string => {
  if (env.BATON_HOME !== undefined && env.BATON_HOME !== "") return env.BATON_HOME;
  const home = homedir();
  switch (platform()) {
    case "darwin":
      return join(home, "Library", "Application Support", "baton");
    case "win32":
      return join(env.LOCALAPPDATA ?? join(home, "AppData", "Local"), "baton");
    default:
      return join(env.XDG_STATE_HOME ?? join(home, ".local", "state"), "baton");
  }
};

export const CONFIG_FILE = "config.json";
export const SECRET_FILE = "secret.json";

/**
 * The lock directory's name, the owner record inside it, the prefix of dead holders' lock tombstones and the prefix
 * of the markers that serialize their recovery (all beside the lock directory, in the account directory).
 */
export const LOCK_DIR = "refresh.lock";
export const OWNER_FILE = "owner.json";
export const TOMBSTONE_PREFIX = `${LOCK_DIR}.dead-`;
export const RECOVERY_PREFIX = `${LOCK_DIR}.recovering-`;

/** The path parts of an account directory below BATON_HOME; throws `FsProblem` for an unsafe name. */
export const accountParts = (home: string, ref: { readonly provider: string; readonly account: string }) => {
  for (const name of [ref.provider, ref.account]) {
    if (!isValidName(name)) {
      throw new FsProblem("permission", `refusing the unsafe account path component "${name}"`, home);
    }
  }
  return ["accounts", ref.provider, ref.account] as const;
};

/** The account directory for messages and in-process keys only (no validation, never throws); memoized. */
export const describeAccount = (home: string, ref: { readonly provider: string; readonly account: string }) => {
  const key = `${home}\0${ref.provider}\0${ref.account}`;
  let path = described.get(key);
  if (path === undefined) {
    path = join(home, "accounts", ref.provider, ref.account);
    if (described.size >= DESCRIBED_LIMIT) described.clear();
    described.set(key, path);
  }
  return path;
};
const described = new Map<string, string>();
const DESCRIBED_LIMIT = 4096;

/**
 * The file `name` in the directory `parts` below `home`, read by the stores' rules: every directory on the way
 * `lstat`ed (no symlink, 0700), the file opened without following a symlink (a regular file, 0600). Loose modes are
 * repaired with a warning; anything refused throws `FsProblem`. `undefined` when a directory or the file is missing.
 */
export const readHomeFile = (
  home: string,
  parts: ReadonlyArray<string>,
  name: string,
  warn: Warn,
): SmallFile | undefined => {
  const dir = secureDirSync(home, parts, warn);
  return dir === undefined ? undefined : readSmallFile(`${dir}${sep}${name}`, warn);
};

/**
 * Every `<provider>/<account>` directory under accounts/ that holds a regular file `fileName`. Directory entries come
 * with their types (`readdir` with `withFileTypes`), so only the file is `lstat`ed; symlinked directories are
 * ignored with a warning.
 */
export const listAccounts = async (
  home: string,
  fileName: string,
  warn: Warn,
): Promise<ReadonlyArray<{ readonly provider: string; readonly account: string }>> => {
  const root = secureDirSync(home, ["accounts"], warn);
  if (root === undefined) return [];
  const found: Array<{ readonly provider: string; readonly account: string }> = [];
  for (const provider of (await readdir(root, { withFileTypes: true })).sort(byName)) {
    if (!isValidName(provider.name)) continue;
    const providerDir = join(root, provider.name);
    if (!provider.isDirectory()) {
      if (provider.isSymbolicLink()) warn(`ignoring ${providerDir}: it is a symbolic link`);
      continue;
    }
    for (const account of (await readdir(providerDir, { withFileTypes: true })).sort(byName)) {
      if (!isValidName(account.name)) continue;
      const dir = join(providerDir, account.name);
      if (!account.isDirectory()) {
        if (account.isSymbolicLink()) warn(`ignoring ${dir}: it is a symbolic link`);
        continue;
      }
      if (lstatSyncOrUndefined(join(dir, fileName))?.isFile() === true) {
        found.push({ provider: provider.name, account: account.name });
      }
    }
  }
  return found;
};

const byName = (a: { readonly name: string }, b: { readonly name: string }): number =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
