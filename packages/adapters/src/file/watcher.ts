/**
 * Change notifications for waiters (I6): one `fs.watch` per account directory, shared by every watcher of that
 * account in the process and reference-counted (closed with the last scope). The lock directory going away and
 * `secret.json` being replaced wake waiters; nothing else does (see {@link ignored}). Each watcher keeps
 * the change counter it last saw, so `next` returns at once for a change made between two calls. `next`'s time limit
 * uses Effect's clock. If the watch cannot be made (e.g. the inotify limit) or fails later (directory removed), `next`
 * falls back to polls every {@link BROKEN_WATCH_POLL_MS} instead of failing.
 */
import * as nodeFs from "node:fs";
import { sep } from "node:path";
import type { ChangeWatcher } from "@baton/core";
import { Effect } from "effect";
import { LOCK_DIR, lstatSyncOrUndefined, SECRET_FILE } from "./paths.ts";

/** How often `next` polls when the directory watch failed. */
export const BROKEN_WATCH_POLL_MS = 100;

// ------------------------------------------------------------------------------------------------ shared watchers

export interface SharedWatch {
  watcher: nodeFs.FSWatcher | undefined;
  refs: number;
  version: number;
  broken: boolean;
  readonly wakers: Set<() => void>;
}

const watches = new Map<string, SharedWatch>();

const bump = (shared: SharedWatch): void => {
  shared.version += 1;
  for (const wake of [...shared.wakers]) wake();
};

/**
 * Only two changes can end a wait: `secret.json` replaced (a new generation) and the lock directory going away.
 * Everything else in the account directory — event-log appends, claim files, heartbeat mtimes, temp files,
 * tombstones — is ignored, so a herd of followers is not woken by every record the holder writes. The lock directory
 * APPEARING is ignored too (one `lstat` in the callback tells): whoever waits for the lock was waiting because it was
 * held, and a lock taken again is still not free — without this, every waiter woke up when the holder took the lock,
 * at the moment the holder most needs the CPU. An event without a name (some platforms) wakes, to be safe.
 */
const ignored = (dir: string, event: string, name: string | null): boolean => {
  if (name === null || name === SECRET_FILE) return false;
  if (name !== LOCK_DIR || event !== "rename") return true;
  try {
    return lstatSyncOrUndefined(`${dir}${sep}${LOCK_DIR}`) !== undefined;
  } catch {
    return false; // cannot tell (e.g. the directory became unreadable): wake, the waiter looks for itself
  }
};

export const acquireWatch = (dir: string): SharedWatch => {
  let shared = watches.get(dir);
  if (shared === undefined) {
    const entry: SharedWatch = { watcher: undefined, refs: 0, version: 0, broken: false, wakers: new Set() };
    try {
      entry.watcher = nodeFs.watch(dir, { persistent: false }, (event, name) => {
        if (!ignored(dir, event, name)) bump(entry);
      });
    } catch {
      // E.g. the inotify watch limit: waiters poll instead of failing; the next watcher tries again.
      entry.broken = true;
      entry.refs += 1;
      return entry;
    }
    entry.watcher.on("error", () => {
      entry.broken = true;
      entry.watcher?.close();
      entry.watcher = undefined;
      if (watches.get(dir) === entry) watches.delete(dir);
      bump(entry);
    });
    watches.set(dir, entry);
    shared = entry;
  }
  shared.refs += 1;
  return shared;
};

export const releaseWatch = (dir: string, shared: SharedWatch): void => {
  shared.refs -= 1;
  if (shared.refs > 0) return;
  shared.watcher?.close();
  shared.watcher = undefined;
  if (watches.get(dir) === shared) watches.delete(dir);
};

export const makeWatcher = (shared: SharedWatch): ChangeWatcher => {
  let seen = shared.version;
  const wake = Effect.callback<void>((resume) => {
    const waker = () => {
      shared.wakers.delete(waker);
      resume(Effect.void);
    };
    shared.wakers.add(waker);
    return Effect.sync(() => shared.wakers.delete(waker));
  });
  return {
    next: (maxWaitMs) =>
      Effect.suspend(() => {
        if (shared.version !== seen) {
          seen = shared.version;
          return Effect.void;
        }
        const limit = Math.max(0, shared.broken ? Math.min(maxWaitMs, BROKEN_WATCH_POLL_MS) : maxWaitMs);
        return Effect.raceFirst(wake, Effect.sleep(limit)).pipe(
          Effect.ensuring(
            Effect.sync(() => {
              seen = shared.version;
            }),
          ),
        );
      }),
  };
};
