/**
 * The file secret store (kind "file"): one 0600 JSON record per account at
 * `accounts/<provider>/<account>/secret.json`, holding the current generation of its credentials.
 *
 * - Writes are compare-and-set on the generation (I2): the current record is read, the write fails with
 *   `GenerationConflict` unless its generation is the expected one and the new generation is higher, then the file is
 *   replaced atomically (temp file + fsync + rename + directory fsync, I3). A kill at any point leaves the old or the
 *   new record, never a torn one. The check-and-replace is atomic within a process (a per-file mutex); across
 *   processes it relies on the protocol, which writes only while holding the account lock and the generation's claim.
 * - Reads decode with the `Credentials` schema. A record that is not JSON or fails the schema is moved (renamed, bytes
 *   kept) into `quarantine/` and reported as `StoreFailure` reason `corrupt`, naming the file, the problem and where it
 *   went (I4: nothing is blanked). Messages never contain file contents.
 * - Symlinks at any store path are refused; loose permissions are repaired with a warning (see paths.ts).
 */
import { unlink } from "node:fs/promises";
import { join, sep } from "node:path";
import {
  type AccountRef,
  accountKey,
  type Credentials,
  GenerationConflict,
  parseCredentialsRecord,
  SecretStore,
  type SecretStoreShape,
  type StoreFailure,
} from "@baton/core";
import { Effect, Layer } from "effect";
import {
  accountParts,
  describeAccount,
  FsProblem,
  fsyncDir,
  listAccounts,
  lstatSyncOrUndefined,
  moveToQuarantine,
  readSmallFile,
  replaceAtomically,
  runFs,
  runFsSync,
  SECRET_FILE,
  secureDir,
  secureDirSync,
  tempName,
  type Warn,
  type WriteFaults,
  withMutex,
  writeNewFile,
} from "./paths.ts";

export { SECRET_FILE } from "./paths.ts";

export interface FileSecretStoreOptions {
  /** BATON_HOME. */
  readonly home: string;
  /** Test hooks: e.g. `beforeRename` may throw an ENOSPC-like error to show the old record survives. */
  readonly faults?: WriteFaults;
}

/**
 * The last record decoded per path, with its bytes: a follower woken many times reads the file each time but decodes
 * it once. (Identical bytes, not file identity, decide: inode numbers are reused after an atomic replace.)
 */
const decoded = new Map<string, { readonly bytes: Buffer; readonly value: Credentials }>();

/** One synchronous look at the record at `path`: absent, decoded, or not decodable (with what is wrong). */
type SecretLook =
  | { readonly _tag: "absent" }
  | { readonly _tag: "ok"; readonly value: Credentials }
  | { readonly _tag: "corrupt"; readonly problem: string; readonly ino: number };

const lookAtSecret = (path: string, warn: Warn): SecretLook => {
  const file = readSmallFile(path, warn);
  if (file === undefined) return { _tag: "absent" };
  const known = decoded.get(path);
  if (known?.bytes.equals(file.bytes)) return { _tag: "ok", value: known.value };
  const parsed = parseCredentialsRecord(file.bytes.toString("utf8"));
  if (!("ok" in parsed)) return { _tag: "corrupt", problem: parsed.problem, ino: file.stats.ino };
  decoded.set(path, { bytes: file.bytes, value: parsed.ok });
  return { _tag: "ok", value: parsed.ok };
};

/**
 * Reads the record of `account`, quarantining a corrupt one (then throwing `corrupt`). Retries when the file was
 * replaced between the read and the quarantine (a concurrent writer's good record is never moved aside).
 */
export const readSecretFile = async (
  home: string,
  account: AccountRef,
  warn: Warn,
): Promise<Credentials | undefined> => {
  const dir = secureDirSync(home, accountParts(home, account), warn);
  if (dir === undefined) return undefined;
  const path = `${dir}${sep}${SECRET_FILE}`;
  for (let round = 0; round < 3; round++) {
    const look = lookAtSecret(path, warn);
    if (look._tag === "absent") return undefined;
    if (look._tag === "ok") return look.value;
    const movedTo = await moveToQuarantine(home, path, account, look.ino, warn);
    if (movedTo === undefined) continue;
    throw new FsProblem(
      "corrupt",
      `the secret record ${path} ${look.problem}; it was moved to ${movedTo} with its bytes intact` +
        " (run `baton doctor` for recovery, or log in again)",
      path,
    );
  }
  throw new FsProblem("io", `${path} kept changing while it was being read`, path);
};

/**
 * The common case of {@link readSecretFile}, synchronously: the record or `undefined`, or `"corrupt"` when it does
 * not decode (then the full read moves it to quarantine).
 */
const readSecretFileSync = (home: string, account: AccountRef, warn: Warn): Credentials | undefined | "corrupt" => {
  const dir = secureDirSync(home, accountParts(home, account), warn);
  if (dir === undefined) return undefined;
  const look = lookAtSecret(`${dir}${sep}${SECRET_FILE}`, warn);
  return look._tag === "ok" ? look.value : look._tag === "corrupt" ? "corrupt" : undefined;
};

export const make = (options: FileSecretStoreOptions): SecretStoreShape => {
  const { home } = options;
  const where = (account: AccountRef) => `${describeAccount(home, account)}${sep}${SECRET_FILE}`;

  const read = (account: AccountRef): Effect.Effect<Credentials | undefined, StoreFailure> =>
    runFsSync("read the secret record", where(account), (warn) => readSecretFileSync(home, account, warn)).pipe(
      Effect.flatMap((found) =>
        found === "corrupt"
          ? runFs("read the secret record", where(account), (warn) => readSecretFile(home, account, warn))
          : Effect.succeed(found),
      ),
    );

  const write = (
    account: AccountRef,
    next: Credentials,
    expectedGeneration: number,
  ): Effect.Effect<void, StoreFailure | GenerationConflict> =>
    runFs("write the secret record", where(account), async (warn) => {
      const dir = await secureDir(home, accountParts(home, account), true, warn);
      const current = await readSecretFile(home, account, warn);
      const found = current?.generation ?? 0;
      if (found !== expectedGeneration || next.generation <= found) return found;
      await replaceAtomically(
        join(dir ?? describeAccount(home, account), SECRET_FILE),
        JSON.stringify(next),
        options.faults,
      );
      return undefined;
    }).pipe(
      Effect.flatMap((found) =>
        found === undefined
          ? Effect.void
          : Effect.fail(new GenerationConflict({ account: accountKey(account), expected: expectedGeneration, found })),
      ),
      withMutex(where(account)),
    );

  const remove = (account: AccountRef): Effect.Effect<void, StoreFailure> =>
    runFs("remove the secret record", where(account), async (warn) => {
      const dir = await secureDir(home, accountParts(home, account), false, warn);
      if (dir === undefined) return;
      const path = join(dir, SECRET_FILE);
      const stats = lstatSyncOrUndefined(path);
      if (stats === undefined) return;
      if (stats.isSymbolicLink()) {
        throw new FsProblem("permission", `refusing ${path}: it is a symbolic link`, path);
      }
      await unlink(path);
      await fsyncDir(dir);
    }).pipe(withMutex(where(account)));

  const list = (): Effect.Effect<ReadonlyArray<AccountRef>, StoreFailure> =>
    runFs("list the accounts in", join(home, "accounts"), (warn) => listAccounts(home, SECRET_FILE, warn));

  /** The account directory can be made and written: a durable temp file is created there and removed again. */
  const probe = (account: AccountRef): Effect.Effect<void, StoreFailure> =>
    runFs("write a probe file in", describeAccount(home, account), async (warn) => {
      const dir = (await secureDir(home, accountParts(home, account), true, warn)) ?? describeAccount(home, account);
      const path = tempName(join(dir, SECRET_FILE));
      await writeNewFile(path, "");
      await unlink(path);
    });

  return { kind: "file", read, write, probe, remove, list };
};

/** The file secret store as a layer. */
export const layer = (options: FileSecretStoreOptions): Layer.Layer<SecretStore> =>
  Layer.succeed(SecretStore, SecretStore.of(make(options)));
