/**
 * The lock that serializes every change of `<BATON_HOME>/config.json` across processes: `<BATON_HOME>/config.lock`,
 * a file created exclusively (complete before it is visible: written to a temp file, then `link`ed) that holds its
 * owner `{host, pid, nonce, boot}`. The registry reads config.json again under it, changes that version and replaces
 * the file before releasing it, so concurrent edits are applied one after the other and none is lost.
 *
 * - A lock whose owner is alive is never taken over, however long it is held (I5): the waiter gives up after a
 *   bounded wait with a retryable error naming the holder. Edits hold the lock for a few milliseconds (no network
 *   inside it), so waiting means polling every few milliseconds; a watch would cost more than it saves here.
 * - A lock whose owner is dead is removed at once: same host, and either `kill(pid, 0)` says the pid is gone or the
 *   lock was written before the machine's last boot (Linux boot id, so a pid reused after a reboot is no obstacle).
 *   Recoverers of one dead lock are serialized by an exclusive marker `config.lock.recovering-<nonce>`, held from
 *   before the owner is re-read until the dead lock is unlinked, so a late recoverer never removes a fresh lock.
 * - An owner on another host (a home shared over a network file system) cannot be judged: the waiter times out
 *   and says which file to delete if nothing runs there.
 *
 * Hand-written rather than proper-lockfile: its staleness rule takes over a live holder's lock after a stall or a
 * wall-clock jump, which this lock must never do, and the kernel locks that die with their holder (flock) have no
 * Node API.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { open, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { Retryable, type StoreFailure } from "@baton/core";
import { Clock, Effect } from "effect";
import {
  createExclusive,
  errorCode,
  FILE_MODE,
  lstatSyncOrUndefined,
  readSmallFile,
  runFs,
  secureDir,
} from "../file/paths.ts";
import { probePid } from "../node/host-identity.ts";

export const CONFIG_LOCK_FILE = "config.lock";
const RECOVERY_PREFIX = `${CONFIG_LOCK_FILE}.recovering-`;

/** How long a change waits for another process's edit by default. */
const DEFAULT_WAIT_MS = 10_000;
const POLL_MIN_MS = 2;
const POLL_MAX_MS = 20;

export interface ConfigLockOwner {
  readonly host: string;
  readonly pid: number;
  readonly nonce: string;
  /** The Linux boot id of the owner's machine when it took the lock, where known. */
  readonly boot?: string;
}

const NONCE = /^[0-9a-f]{16}$/;

/** This machine's boot id (Linux), or `undefined` elsewhere. Read once. */
const bootId = (() => {
  let cached: string | undefined | null = null;
  return (): string | undefined => {
    if (cached === null) {
      try {
        cached = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || undefined;
      } catch {
        cached = undefined;
      }
    }
    return cached;
  };
})();

export const configLockPath = (home: string): string => join(home, CONFIG_LOCK_FILE);

const parseOwner = (text: string): ConfigLockOwner | undefined => {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null) return undefined;
    const { host, pid, nonce, boot } = value as Record<string, unknown>;
    if (typeof host !== "string" || typeof nonce !== "string" || !NONCE.test(nonce)) return undefined;
    if (typeof pid !== "number" || !Number.isInteger(pid)) return undefined;
    return { host, pid, nonce, ...(typeof boot === "string" ? { boot } : {}) };
  } catch {
    return undefined;
  }
};

/** The owner of the config lock, "absent", or "unreadable" (not an owner record baton wrote). */
export const readConfigLockOwner = (home: string): ConfigLockOwner | "absent" | "unreadable" => {
  const file = readSmallFile(configLockPath(home), () => undefined);
  if (file === undefined) return "absent";
  return parseOwner(file.bytes.toString("utf8")) ?? "unreadable";
};

/** Whether `owner` is certainly gone: on this host, and its pid is dead or its machine has rebooted since. */
export const isDeadOwner = (owner: ConfigLockOwner): boolean => {
  if (owner.host !== hostname()) return false;
  const boot = bootId();
  if (owner.boot !== undefined && boot !== undefined && owner.boot !== boot) return true;
  return probePid(owner.pid) === "dead";
};

/**
 * Removes the dead owner's lock unless another recoverer is at it or the lock is not that one any more; says whether
 * this call removed it.
 */
const recoverDeadLock = async (home: string, dead: ConfigLockOwner): Promise<boolean> => {
  const marker = join(home, `${RECOVERY_PREFIX}${dead.nonce}`);
  try {
    await (await open(marker, "wx", FILE_MODE)).close();
  } catch (error) {
    if (errorCode(error) === "EEXIST") return false;
    throw error;
  }
  try {
    const current = readConfigLockOwner(home);
    if (typeof current !== "object" || current.nonce !== dead.nonce) return false;
    await unlink(configLockPath(home));
    return true;
  } finally {
    await unlink(marker).catch(() => undefined);
  }
};

type Attempt =
  | { readonly _tag: "taken"; readonly owner: ConfigLockOwner }
  | { readonly _tag: "held"; readonly by: string };

const describeOwner = (owner: ConfigLockOwner | "absent" | "unreadable"): string =>
  typeof owner === "object" ? `pid ${owner.pid} on ${owner.host}` : "an unknown process";

/** One try: take the lock, or recover a dead owner's lock (the next try takes it), or report who holds it. */
const attempt = (home: string): Effect.Effect<Attempt, StoreFailure> =>
  runFs("lock", configLockPath(home), async (warn): Promise<Attempt> => {
    await secureDir(home, [], true, warn);
    const boot = bootId();
    const owner: ConfigLockOwner = {
      host: hostname(),
      pid: process.pid,
      nonce: randomBytes(8).toString("hex"),
      ...(boot === undefined ? {} : { boot }),
    };
    const path = configLockPath(home);
    // A look first: creating the lock writes and fsyncs a temp file, wasted while another process holds it.
    if (lstatSyncOrUndefined(path) === undefined && (await createExclusive(path, JSON.stringify(owner)))) {
      return { _tag: "taken", owner };
    }
    const holder = readConfigLockOwner(home);
    if (typeof holder === "object" && isDeadOwner(holder) && (await recoverDeadLock(home, holder))) {
      warn(`removed ${path} of ${describeOwner(holder)}, which is gone`);
    }
    return { _tag: "held", by: describeOwner(holder) };
  });

/** Releases the lock if it is still this owner's (a lock is only ever removed by its owner or a recoverer). */
const release = (home: string, owner: ConfigLockOwner): Effect.Effect<void> =>
  Effect.promise(async () => {
    const current = readConfigLockOwner(home);
    if (typeof current === "object" && current.nonce === owner.nonce) {
      await unlink(configLockPath(home)).catch(() => undefined);
    }
  });

const jitter = (): number => POLL_MIN_MS + Math.floor(Math.random() * (POLL_MAX_MS - POLL_MIN_MS));

const acquire = (home: string, waitMs: number): Effect.Effect<ConfigLockOwner, StoreFailure | Retryable> =>
  Effect.gen(function* () {
    const deadline = (yield* Clock.monotonicTimeNanos) + BigInt(waitMs) * 1_000_000n;
    for (;;) {
      const outcome = yield* attempt(home);
      if (outcome._tag === "taken") return outcome.owner;
      if ((yield* Clock.monotonicTimeNanos) >= deadline) {
        return yield* new Retryable({
          account: configLockPath(home),
          reason: "lock-timeout",
          message:
            `config.json is being changed by ${outcome.by} (waited ${Math.round(waitMs / 1000)} s); try again, ` +
            `or delete ${configLockPath(home)} if no baton process runs there`,
        });
      }
      yield* Effect.sleep(jitter());
    }
  });

/**
 * Runs `effect` holding the config lock. Waits at most `waitMs` (measured on the monotonic clock) for another
 * process's edit; then fails with `Retryable` reason "lock-timeout" naming the holder and the lock file.
 */
export const withConfigLock =
  (home: string, waitMs: number = DEFAULT_WAIT_MS) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | StoreFailure | Retryable, R> =>
    Effect.acquireUseRelease(
      acquire(home, waitMs),
      () => effect,
      (owner) => release(home, owner),
    );
