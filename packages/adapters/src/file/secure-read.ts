/**
 * The careful reads every file store makes, synchronously and with nothing but Node loaded. Symbolic links are never
 * followed below BATON_HOME: every directory is `lstat`ed before use and files are opened with `O_NOFOLLOW`; a
 * symlink at a store path is refused (`FsProblem` reason `permission`). BATON_HOME itself may be a symlink (the
 * user's choice of location). Directories must be 0700 and files 0600: a path with group/other permission bits is
 * repaired with `chmod` and a warning. A residual race remains for a directory swapped for a symlink between the
 * `lstat` and its use; only the owner of the 0700 tree (or root) can do that.
 *
 * Synchronous on purpose: these files are a few hundred bytes on a local disk, and a synchronous `lstat` or read costs
 * a few microseconds where the promise version costs ten times that in CPU (thread-pool hop, promise and async-context
 * bookkeeping) — which a herd of waiting processes multiplies (docs/performance.md). Writes are secure-write.ts.
 */
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  type Stats,
} from "node:fs";
import { join, sep } from "node:path";
import { DIR_MODE, errorCode, FILE_MODE, FsProblem, type Warn } from "./fs-base.ts";

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;

/** `lstat`, or `undefined` when the path does not exist. */
export const lstatSyncOrUndefined = (path: string): Stats | undefined => {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch (error) {
    if (errorCode(error) === "ENOENT" || errorCode(error) === "ENOTDIR") return undefined;
    throw error;
  }
};

export const symlinkRefusal = (path: string): FsProblem =>
  new FsProblem(
    "permission",
    `refusing ${path}: it is a symbolic link, and baton never follows links in its store`,
    path,
  );

/** Throws when `stats` is a symlink or not of `kind`; repairs group/other permission bits with a warning. */
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

/**
 * Walks `parts` below `home`, checking each existing directory (no symlinks, 0700), and returns the full path, or
 * `undefined` at the first missing one.
 */
export const secureDirSync = (home: string, parts: ReadonlyArray<string>, warn: Warn): string | undefined => {
  let current = home;
  for (const [index, part] of parts.entries()) {
    // Each part is one safe name (home-files.ts): after the first `join` (which normalizes the home), appending is
    // the same path without `join`'s normalization work, which a herd of waiters repeats on every look.
    current = index === 0 ? join(current, part) : `${current}${sep}${part}`;
    const existing = lstatSyncOrUndefined(current);
    if (existing === undefined) return undefined;
    checkExisting(current, existing, "dir", warn);
  }
  return current;
};

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

/** A small file's bytes and the `fstat` of the descriptor they were read from. */
export interface SmallFile {
  readonly bytes: Buffer;
  readonly stats: Stats;
}

/**
 * Reads a small store file (a secret record, an owner or claim record, the registry) the way {@link openSecureSync}
 * opens one. `undefined` when the file does not exist.
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
