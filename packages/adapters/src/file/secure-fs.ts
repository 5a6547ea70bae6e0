/**
 * Careful file-system primitives shared by the file adapters. Whatever the process umask, directories are 0700 and
 * files 0600 (modes are set explicitly after creation); a pre-existing path with group/other permission bits is
 * repaired with `chmod` and a warning. Symbolic links are never followed below BATON_HOME: every directory is
 * `lstat`ed before use and files are opened with `O_NOFOLLOW`; a symlink at a store path is refused with
 * `StoreFailure` reason `permission`. BATON_HOME itself may be a symlink (the user's choice of location). A residual
 * race remains for a directory swapped for a symlink between the `lstat` and its use; only the owner of the 0700 tree
 * (or root) can do that.
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
  fstatSync,
  fsync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  type Stats,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, sep } from "node:path";
import { DIR_MODE, errorCode, FILE_MODE, FsProblem, type Warn } from "./fs-base.ts";

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
const O_DIRECTORY = constants.O_DIRECTORY ?? 0;

// ----------------------------------------------------------------------------------------------------- directories

/**
 * `lstat`, or `undefined` when the path does not exist. Synchronous on purpose: every store operation checks a few
 * paths, and on a local disk a synchronous `lstat` costs a few microseconds while the promise version costs ten times
 * that in CPU (thread-pool hop, promise and async-context bookkeeping) — which a herd of waiting processes multiplies
 * (docs/performance.md). Everything that can take long (writes, fsync, large reads) stays asynchronous.
 */
export const lstatSyncOrUndefined = (path: string): Stats | undefined => {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch (error) {
    if (errorCode(error) === "ENOENT" || errorCode(error) === "ENOTDIR") return undefined;
    throw error;
  }
};

/** {@link lstatSyncOrUndefined} for async callers. */
export const lstatOrUndefined = async (path: string): Promise<Stats | undefined> => lstatSyncOrUndefined(path);

const symlinkRefusal = (path: string): FsProblem =>
  new FsProblem(
    "permission",
    `refusing ${path}: it is a symbolic link, and baton never follows links in its store`,
    path,
  );

/** Throws when `stats` is a symlink; repairs group/other permission bits with a warning. */
export const checkExisting = (path: string, stats: Stats, kind: "dir" | "file", warn: Warn): void => {
  if (stats.isSymbolicLink()) throw symlinkRefusal(path);
  if (kind === "dir" ? !stats.isDirectory() : !stats.isFile()) {
    throw new FsProblem("io", `${path} is not a ${kind === "dir" ? "directory" : "regular file"}`, path);
  }
  const wanted = kind === "dir" ? DIR_MODE : FILE_MODE;
  if ((stats.mode & 0o077) !== 0) {
    chmodSync(path, wanted);
    warn(`${path} had loose permissions ${(stats.mode & 0o777).toString(8)}; repaired to ${wanted.toString(8)}`);
  }
};

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
 * Walks `parts` below `home`, checking each existing directory (no symlinks, 0700; synchronous calls only), and
 * returns the full path, or `undefined` at the first missing one.
 */
export const secureDirSync = (home: string, parts: ReadonlyArray<string>, warn: Warn): string | undefined => {
  let current = home;
  for (const [index, part] of parts.entries()) {
    // Each part is one safe name (paths.ts): after the first `join` (which normalizes the home), appending is the
    // same path without `join`'s normalization work, which a herd of waiters repeats on every look.
    current = index === 0 ? join(current, part) : `${current}${sep}${part}`;
    const existing = lstatSyncOrUndefined(current);
    if (existing === undefined) return undefined;
    checkExisting(current, existing, "dir", warn);
  }
  return current;
};

/**
 * Walks `parts` below `home`, checking each directory (no symlinks, 0700). With `create`, missing directories are
 * made 0700; without, a missing one returns `undefined` ({@link secureDirSync}). Returns the full path.
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

/** The checks of a freshly opened store file: a regular file, mode 0600 (loose modes repaired with a warning). */
const checkOpenedFile = (path: string, fd: number, warn: Warn): Stats => {
  const stats = fstatSync(fd);
  if (!stats.isFile()) throw new FsProblem("io", `${path} is not a regular file`, path);
  if ((stats.mode & 0o777) !== FILE_MODE) {
    fchmodSync(fd, FILE_MODE);
    if ((stats.mode & 0o077) !== 0) {
      warn(`${path} had loose permissions ${(stats.mode & 0o777).toString(8)}; repaired to 600`);
    }
  }
  return stats;
};

/** A small file's bytes and the `fstat` of the descriptor they were read from. */
export interface SmallFile {
  readonly bytes: Buffer;
  readonly stats: Stats;
}

/**
 * Reads a small store file (a secret record, an owner or claim record, the registry) the way {@link openSecureSync}
 * opens one — no symlink followed, regular files only, loose modes repaired with a warning: these files are a few
 * hundred bytes on a local disk, and the synchronous calls cost a fraction of the CPU of the promise path (see
 * {@link lstatSyncOrUndefined}). `undefined` when the file does not exist.
 */
export const readSmallFile = (path: string, warn: Warn): SmallFile | undefined => {
  const opened = openSecureSync(path, warn);
  if (opened === undefined) return undefined;
  try {
    return { bytes: readFileSync(opened.fd), stats: opened.stats };
  } finally {
    closeSync(opened.fd);
  }
};

/**
 * Opens an existing or new store file without following a symlink: a descriptor of the regular file at `path` (loose
 * modes repaired with a warning) and its `fstat`, or `undefined` when it does not exist and `flags` (read-only by
 * default) has no `O_CREAT`. The caller closes it.
 */
export const openSecureSync = (
  path: string,
  warn: Warn,
  flags: number = constants.O_RDONLY,
): { readonly fd: number; readonly stats: Stats } | undefined => {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted at a store path must not hang the open (no effect on regular files).
    fd = openSync(path, flags | O_NOFOLLOW | O_NONBLOCK, FILE_MODE);
  } catch (error) {
    const code = errorCode(error);
    if ((code === "ENOENT" || code === "ENOTDIR") && (flags & constants.O_CREAT) === 0) return undefined;
    if (code === "ELOOP" || code === "EMLINK") throw symlinkRefusal(path);
    throw error;
  }
  try {
    return { fd, stats: checkOpenedFile(path, fd, warn) };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
};

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
