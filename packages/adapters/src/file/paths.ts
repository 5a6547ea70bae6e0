/**
 * The layout of BATON_HOME, and the one import point of the file adapters' plumbing:
 *
 *   accounts/<provider>/<account>/secret.json   the secret record (0600)
 *   accounts/<provider>/<account>/events.log    the event log (0600)
 *   accounts/<provider>/<account>/claims/       claim records
 *   accounts/<provider>/<account>/refresh.lock  proper-lockfile's lock directory
 *   quarantine/                                 corrupt files moved aside, under timestamped names
 *
 * Provider and account names must match the core's safe alphabet before they become path components. This module
 * re-exports fs-base.ts (modes, errors, `runFs`, `withMutex`), secure-fs.ts (no-symlink 0700/0600 directories and
 * files, atomic and exclusive writes) and quarantine.ts.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { AccountRef } from "@baton/core";
import { FsProblem, type Warn } from "./fs-base.ts";
import { lstatSyncOrUndefined, secureDir } from "./secure-fs.ts";

export * from "./fs-base.ts";
export * from "./quarantine.ts";
export * from "./secure-fs.ts";

// ---------------------------------------------------------------------------------------------------------- layout

/** The same alphabet as the core's account names; anything else could escape the tree. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const isSafeName = (name: string): boolean => SAFE_NAME.test(name);

/** The path parts of an account directory below BATON_HOME; throws `FsProblem` for an unsafe name. */
export const accountParts = (home: string, ref: AccountRef): ReadonlyArray<string> => {
  for (const name of [ref.provider, ref.account]) {
    if (!isSafeName(name)) {
      throw new FsProblem("permission", `refusing the unsafe account path component "${name}"`, home);
    }
  }
  return ["accounts", ref.provider, ref.account];
};

/** The account directory for messages and in-process keys only (no validation, never throws); memoized. */
export const describeAccount = (home: string, ref: AccountRef): string => {
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

export const accountsDir = (home: string): string => join(home, "accounts");
export const accountDir = (home: string, ref: AccountRef): string => join(home, ...accountParts(home, ref));
export const secretPath = (home: string, ref: AccountRef): string => join(accountDir(home, ref), "secret.json");
export const eventsPath = (home: string, ref: AccountRef): string => join(accountDir(home, ref), "events.log");
export const claimsDir = (home: string, ref: AccountRef): string => join(accountDir(home, ref), "claims");
export const lockPath = (home: string, ref: AccountRef): string => join(accountDir(home, ref), "refresh.lock");

/**
 * The lock directory's name, the owner record inside it, the prefix of dead holders' lock tombstones and the prefix
 * of the markers that serialize their recovery (all beside the lock directory, in the account directory).
 */
export const LOCK_DIR = "refresh.lock";
export const OWNER_FILE = "owner.json";
export const TOMBSTONE_PREFIX = `${LOCK_DIR}.dead-`;
export const RECOVERY_PREFIX = `${LOCK_DIR}.recovering-`;
export const quarantineDir = (home: string): string => join(home, "quarantine");
// ------------------------------------------------------------------------------------------------------- listings

/**
 * Every `<provider>/<account>` directory under accounts/ that holds a regular file `fileName`. Directory entries come
 * with their types (`readdir` with `withFileTypes`), so only the file is `lstat`ed; symlinked directories are
 * ignored with a warning.
 */
export const listAccounts = async (home: string, fileName: string, warn: Warn): Promise<ReadonlyArray<AccountRef>> => {
  const root = await secureDir(home, ["accounts"], false, warn);
  if (root === undefined) return [];
  const found: Array<AccountRef> = [];
  for (const provider of (await readdir(root, { withFileTypes: true })).sort(byName)) {
    if (!isSafeName(provider.name)) continue;
    const providerDir = join(root, provider.name);
    if (!provider.isDirectory()) {
      if (provider.isSymbolicLink()) warn(`ignoring ${providerDir}: it is a symbolic link`);
      continue;
    }
    for (const account of (await readdir(providerDir, { withFileTypes: true })).sort(byName)) {
      if (!isSafeName(account.name)) continue;
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
