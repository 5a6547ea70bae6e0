/**
 * The careful writes every file store makes. Whatever the process umask, directories are 0700 and files 0600 (modes
 * are set explicitly after creation), and no symlink is followed (the reads' rules, secure-read.ts).
 *
 * Writes are durable: atomic replacement is temp file (0600, `O_EXCL|O_NOFOLLOW`) + write + fsync + rename +
 * directory fsync; exclusive creation publishes a fully written temp file with `link(2)`. The `open`, `write`,
 * `rename`, `link`, `unlink` and `close` of these small files are synchronous calls (microseconds, the page cache);
 * only the `fsync`s, which wait for the disk, go to the thread pool. Each trip through the thread pool costs the
 * process a wake-up, and a refresh holder competing for the CPU with a herd of waiters pays for every wake-up with a
 * wait for a time slice (docs/performance.md, herd).
 */
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fdatasync,
  fsync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, sep } from "node:path";
import { DIR_MODE, errorCode, FILE_MODE, FsProblem, type Warn } from "./fs-base.ts";
import { checkExisting, lstatSyncOrUndefined, secureDirSync, symlinkRefusal } from "./secure-read.ts";

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_DIRECTORY = constants.O_DIRECTORY ?? 0;

// ----------------------------------------------------------------------------------------------------- directories

/** Makes sure BATON_HOME exists as a 0700 directory (it may be a symlink chosen by the user). */
const ensureHome = (home: string, warn: Warn): void => {
  const stats = statSync(home, { throwIfNoEntry: false });
  if (stats === undefined) {
    mkdirSync(home, { recursive: true, mode: DIR_MODE });
    chmodSync(home, DIR_MODE);
    return;
  }
  if (!stats.isDirectory()) throw new FsProblem("io", `BATON_HOME ${home} is not a directory`, home);
  if ((stats.mode & 0o077) !== 0) {
    chmodSync(home, DIR_MODE);
    warn(`${home} had loose permissions ${(stats.mode & 0o777).toString(8)}; repaired to 700`);
  }
};

/**
 * Walks `parts` below `home`, checking each directory (no symlinks, 0700). With `create`, missing directories are
 * made 0700 (durably); without, a missing one returns `undefined` (secure-read.ts `secureDirSync`). Returns the full
 * path.
 */
export const secureDir = async (
  home: string,
  parts: ReadonlyArray<string>,
  create: boolean,
  warn: Warn,
): Promise<string | undefined> => {
  if (!create) return secureDirSync(home, parts, warn);
  ensureHome(home, warn);
  let current = home;
  for (const [index, part] of parts.entries()) {
    current = index === 0 ? join(current, part) : `${current}${sep}${part}`;
    const existing = lstatSyncOrUndefined(current);
    if (existing !== undefined) {
      checkExisting(current, existing, "dir", warn);
      continue;
    }
    let created = true;
    try {
      mkdirSync(current, { mode: DIR_MODE });
    } catch (error) {
      if (errorCode(error) !== "EEXIST") throw error;
      created = false;
    }
    const made = lstatSync(current);
    if (made.isSymbolicLink()) throw symlinkRefusal(current);
    if (!made.isDirectory()) throw new FsProblem("io", `${current} is not a directory`, current);
    if ((made.mode & 0o777) !== DIR_MODE) chmodSync(current, DIR_MODE);
    // The new entry must survive a crash as much as the files that will be put in it.
    if (created) await fsyncDir(dirname(current));
  }
  return current;
};

/**
 * `fsync` (or, with `dataOnly`, `fdatasync`) of an open descriptor, in the thread pool: the one call of a durable
 * write that waits for the disk.
 */
export const syncDescriptor = (fd: number, dataOnly = false): Promise<void> =>
  new Promise((resolve, reject) =>
    (dataOnly ? fdatasync : fsync)(fd, (error) => (error === null ? resolve() : reject(error))),
  );

/** `fsync` of a directory, so that a create, rename or unlink in it is durable. */
export const fsyncDir = async (path: string): Promise<void> => {
  const fd = openSync(path, constants.O_RDONLY | O_DIRECTORY);
  try {
    await syncDescriptor(fd);
  } catch (error) {
    // Some platforms refuse fsync on directories; there is nothing more to do there.
    const code = errorCode(error);
    if (code !== "EINVAL" && code !== "EISDIR" && code !== "EBADF" && code !== "EPERM") throw error;
  } finally {
    closeSync(fd);
  }
};

// ----------------------------------------------------------------------------------------------------------- files

/** A unique sibling name for a temporary file (hidden, never matching a store name). */
export const tempName = (path: string): string =>
  join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);

/**
 * Creates a new 0600 file exclusively (`O_EXCL|O_NOFOLLOW`), writes `data`, fsyncs it and closes it. If writing
 * fails after the create, the file (ours alone) is removed again.
 */
export const writeNewFile = async (path: string, data: string | Uint8Array): Promise<void> => {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, FILE_MODE);
  try {
    fchmodSync(fd, FILE_MODE);
    writeFileSync(fd, data);
    await syncDescriptor(fd);
  } catch (error) {
    closeQuietly(fd);
    removeQuietly(path);
    throw error;
  }
  closeSync(fd);
};

const closeQuietly = (fd: number): void => {
  try {
    closeSync(fd);
  } catch {
    // Already closed or never usable: nothing to undo.
  }
};

const removeQuietly = (path: string): void => {
  try {
    unlinkSync(path);
  } catch {
    // Already gone: nothing to undo.
  }
};

/** Options shared by the atomic writers: a hook tests use to inject a failure just before the rename. */
export interface WriteFaults {
  readonly beforeRename?: () => void;
}

/**
 * Atomically replaces `path` with `data`: temp file in the same directory (0600, `O_EXCL|O_NOFOLLOW`), write, fsync,
 * rename, fsync of the directory. On any failure the temp file is removed and `path` is untouched.
 */
export const replaceAtomically = async (
  path: string,
  data: string | Uint8Array,
  faults?: WriteFaults,
): Promise<void> => {
  const existing = lstatSyncOrUndefined(path);
  if (existing?.isSymbolicLink() === true) throw symlinkRefusal(path);
  const temp = tempName(path);
  try {
    await writeNewFile(temp, data);
    faults?.beforeRename?.();
    renameSync(temp, path);
  } catch (error) {
    removeQuietly(temp);
    throw error;
  }
  await fsyncDir(dirname(path));
};

/**
 * Creates `path` exclusively with its whole content: the content goes to a temp file first, then `link(2)` publishes
 * it (atomic, fails with EEXIST), so no reader ever sees an empty or half-written record. Falls back to an `O_EXCL`
 * create where the file system has no hard links. Returns `false` when `path` already exists. Durable on success.
 */
export const createExclusive = async (path: string, data: string): Promise<boolean> => {
  const temp = tempName(path);
  await writeNewFile(temp, data);
  try {
    linkSync(temp, path);
  } catch (error) {
    const code = errorCode(error);
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw error;
    try {
      await writeNewFile(path, data);
    } catch (fallbackError) {
      if (errorCode(fallbackError) === "EEXIST") return false;
      throw fallbackError;
    }
  } finally {
    removeQuietly(temp);
  }
  await fsyncDir(dirname(path));
  return true;
};
