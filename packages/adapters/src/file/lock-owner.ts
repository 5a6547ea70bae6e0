/**
 * The lock directory's contents and the recovery of a dead holder's lock. `owner.json` `{host, pid, nonce}` is
 * written inside proper-lockfile's own `mkdir` (through its `fs` option, {@link lockFs}) so that it exists before the
 * heartbeat's mtime is taken — any later change inside the directory would change that mtime and make proper-lockfile
 * declare the lock compromised. Removal is recursive, since the directory is not empty. {@link recoverDeadLock}
 * removes the lock of a holder known to be dead, serialized against other recoverers.
 */
import { randomBytes } from "node:crypto";
import * as nodeFs from "node:fs";
import { open, rename, rm, unlink } from "node:fs/promises";
import { join } from "node:path";
import { DIR_MODE, errorCode, FILE_MODE, LOCK_DIR, OWNER_FILE, RECOVERY_PREFIX, TOMBSTONE_PREFIX } from "./paths.ts";

/** The content of `owner.json`. */
export interface LockOwner {
  readonly host: string;
  readonly pid: number;
  readonly nonce: string;
}

/** Nonces are hex: they become part of recovery marker names. */
const NONCE = /^[0-9a-f]{8,64}$/;

const parseOwner = (text: string): LockOwner | undefined => {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null) return undefined;
    const { host, pid, nonce } = value as Record<string, unknown>;
    if (typeof host !== "string" || typeof nonce !== "string" || !NONCE.test(nonce)) return undefined;
    if (typeof pid !== "number" || !Number.isInteger(pid)) {
      return undefined;
    }
    return { host, pid, nonce };
  } catch {
    return undefined;
  }
};

/** O_NONBLOCK: a FIFO planted as the owner record must not hang the (synchronous) open. */
const O_READ_NOFOLLOW = nodeFs.constants.O_RDONLY | nodeFs.constants.O_NOFOLLOW | (nodeFs.constants.O_NONBLOCK ?? 0);

/**
 * The owner record of a lock directory, if it has a readable one (never following a link). Synchronous: a waiter
 * reads it at every lock attempt, and it is a few dozen bytes (see secure-read.ts).
 */
export const readOwnerSync = (lockDir: string): LockOwner | undefined => {
  let fd: number;
  try {
    fd = nodeFs.openSync(join(lockDir, OWNER_FILE), O_READ_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    return parseOwner(nodeFs.readFileSync(fd, "utf8"));
  } catch {
    return undefined;
  } finally {
    nodeFs.closeSync(fd);
  }
};

type Callback = (error: NodeJS.ErrnoException | null) => void;
type StatCallback = (error: NodeJS.ErrnoException | null, stats?: nodeFs.Stats) => void;

/**
 * Runs a synchronous file-system call and reports to a Node-style callback on the next tick (never from inside the
 * caller's stack). The lock's calls touch one small directory (microseconds); a trip through the thread pool per
 * call would cost a wake-up each, which a lock holder competing with a herd of waiters pays for in time slices
 * (secure-write.ts, docs/performance.md).
 */
const deferred = <A>(run: () => A, callback: (error: NodeJS.ErrnoException | null, value?: A) => void): void => {
  let value: A;
  try {
    value = run();
  } catch (error) {
    process.nextTick(callback, error as NodeJS.ErrnoException);
    return;
  }
  process.nextTick(callback, null, value);
};

const removeEmptyDir = (path: string): void => {
  try {
    nodeFs.rmdirSync(path);
  } catch {
    // Not empty any more, or gone: not ours to remove.
  }
};

/** `mkdir` that also writes the owner record; undoes only what is certainly ours when the record fails. */
const makeLockDir = (path: string, owner: LockOwner): void => {
  nodeFs.mkdirSync(path, DIR_MODE);
  const ownerPath = join(path, OWNER_FILE);
  let created = false;
  try {
    nodeFs.chmodSync(path, DIR_MODE);
    const flags =
      nodeFs.constants.O_WRONLY | nodeFs.constants.O_CREAT | nodeFs.constants.O_EXCL | nodeFs.constants.O_NOFOLLOW;
    const fd = nodeFs.openSync(ownerPath, flags, FILE_MODE);
    created = true;
    try {
      nodeFs.fchmodSync(fd, FILE_MODE);
      nodeFs.writeSync(fd, JSON.stringify(owner));
    } finally {
      nodeFs.closeSync(fd);
    }
  } catch (ownerError) {
    if (created) nodeFs.rmSync(ownerPath, { force: true });
    if (errorCode(ownerError) !== "EEXIST") removeEmptyDir(path);
    throw ownerError;
  }
};

/**
 * The `fs` given to proper-lockfile: `mkdir` also writes the owner record, removal is recursive. It holds exactly the
 * calls proper-lockfile 4 makes (`mkdir`, `stat`, `utimes`, `realpath`, `rmdir`, `rmdirSync`), not a copy of all of
 * `node:fs` per attempt, each run synchronously and reported on the next tick ({@link deferred}).
 */
export const lockFs = (owner: LockOwner): object => ({
  stat: (path: string, callback: StatCallback) => deferred(() => nodeFs.statSync(path), callback),
  utimes: (path: string, atime: Date, mtime: Date, callback: Callback) =>
    deferred(() => nodeFs.utimesSync(path, atime, mtime), callback),
  realpath: nodeFs.realpath,
  mkdir: (path: string, callback: Callback) => deferred(() => makeLockDir(path, owner), callback),
  rmdir: (path: string, callback: Callback) => deferred(() => nodeFs.rmSync(path, { recursive: true }), callback),
  rmdirSync: (path: string) => nodeFs.rmSync(path, { recursive: true }),
});

/**
 * Removes the lock directory of a dead holder: "removed" by us, "gone" (another recoverer was first, so one more
 * attempt makes sense) or "kept" (someone else is recovering it, or it is not the dead one any more).
 *
 * Recoverers of one dead lock are serialized by an exclusive marker `refresh.lock.recovering-<nonce>` held from
 * before the owner is re-read until the dead directory is gone, so a late recoverer can never move a fresh lock
 * aside. The removal itself is a rename to a unique tombstone (atomic), checked against the dead owner's nonce.
 */
export const recoverDeadLock = async (accountDir: string, owner: LockOwner): Promise<"removed" | "gone" | "kept"> => {
  const lockDir = join(accountDir, LOCK_DIR);
  const marker = join(accountDir, `${RECOVERY_PREFIX}${owner.nonce}`);
  try {
    await (await open(marker, "wx", FILE_MODE)).close();
  } catch (error) {
    if (errorCode(error) === "EEXIST") return "kept";
    throw error;
  }
  try {
    if (readOwnerSync(lockDir)?.nonce !== owner.nonce) return "gone";
    const tombstone = join(accountDir, `${TOMBSTONE_PREFIX}${owner.pid}-${randomBytes(6).toString("hex")}`);
    try {
      await rename(lockDir, tombstone);
    } catch (error) {
      if (errorCode(error) === "ENOENT") return "gone";
      throw error;
    }
    if (readOwnerSync(tombstone)?.nonce !== owner.nonce) {
      // Only proper-lockfile's stale takeover can have replaced it meanwhile: give that lock back.
      await rename(tombstone, lockDir).catch(() => undefined);
      return "kept";
    }
    await rm(tombstone, { recursive: true, force: true });
    return "removed";
  } finally {
    await unlink(marker).catch(() => undefined);
  }
};

/**
 * Removes this process's own lock directory when proper-lockfile no longer tracks it (it declared the lock
 * compromised): renamed to a tombstone (atomic), checked to carry our nonce, then deleted; anything else found there
 * is put back.
 */
export const removeOwnLock = async (accountDir: string, owner: LockOwner): Promise<void> => {
  const lockDir = join(accountDir, LOCK_DIR);
  const tombstone = join(accountDir, `${TOMBSTONE_PREFIX}${owner.pid}-${randomBytes(6).toString("hex")}`);
  await rename(lockDir, tombstone);
  if (readOwnerSync(tombstone)?.nonce !== owner.nonce) {
    await rename(tombstone, lockDir).catch(() => undefined);
    return;
  }
  await rm(tombstone, { recursive: true, force: true });
};
