/**
 * The per-account lock on proper-lockfile (a `mkdir` lock with an mtime heartbeat), at
 * `accounts/<provider>/<account>/refresh.lock`, plus change notifications (watcher.ts). The lock is for orderly
 * waiting; safety (I1) rests on the claim store.
 *
 * - All proper-lockfile options are in {@link LOCK_OPTIONS}: retries 0 (the protocol waits, on the watcher),
 *   `realpath: false`, and an `onCompromised` handler that only sets the lease's `lost` flag and logs a warning — the
 *   library's default throws from a timer and would kill the process.
 * - The lock directory holds `owner.json` `{host, pid, nonce}` (lock-owner.ts). `release` removes the directory only
 *   while it still carries this lease's nonce.
 * - Dead holders (I5): when `tryAcquire` finds the lock held by a process on THIS host that is dead
 *   (`HostIdentity.isAlive` → "dead", i.e. `kill(pid, 0)` says ESRCH), it takes an exclusive recovery marker for that
 *   dead lock (one recoverer at a time), renames the lock directory to a unique tombstone, checks the tombstone
 *   carries the dead owner's nonce, removes it and tries once more (see lock-owner.ts). A SIGKILLed holder thus
 *   blocks others for milliseconds (measured by the tests: ~4-14 ms from the kill) once its parent has reaped it.
 *   SIGINT/SIGTERM/normal exits remove the lock at once (proper-lockfile's exit hook).
 * - Bound for everything else (holders on other hosts, an owner record missing, a pid reused by a live process, a
 *   zombie not yet reaped): proper-lockfile's stale rule — the heartbeat mtime is older than `staleMs`. The heartbeat
 *   runs every `updateMs` and its first mtime may lie up to 1 s ahead, so such a lock is taken over at most ~11 s
 *   after its holder died (plus the waiter's watch fallback interval). A live holder's lock is never taken over while
 *   its heartbeat runs; one whose event loop stalls past `staleMs` can lose it (the lease then reports `lost`), which
 *   is why the claim exists. Comparing the mtime with this host's clock is proper-lockfile's rule, used only as this
 *   fallback bound, never for safety.
 */
import { randomBytes } from "node:crypto";
import { sep } from "node:path";
import {
  AccountLock,
  type AccountLockShape,
  type AccountRef,
  type ChangeWatcher,
  HostIdentity,
  type HostIdentityShape,
  LockFailure,
  type LockLease,
} from "@baton/core";
import { Effect, Layer, type Scope } from "effect";
import { type LockOwner, lockFs, readOwner, readOwnerSync, recoverDeadLock } from "./lock-owner.ts";
import {
  accountParts,
  describeAccount,
  errorCode,
  LOCK_DIR,
  lstatSyncOrUndefined,
  runFs,
  runFsSync,
  secureDir,
  secureDirSync,
  withMutex,
} from "./paths.ts";
import { acquireWatch, makeWatcher, releaseWatch } from "./watcher.ts";

export { type LockOwner, readOwner } from "./lock-owner.ts";
export { LOCK_DIR, OWNER_FILE, RECOVERY_PREFIX, TOMBSTONE_PREFIX } from "./paths.ts";

type ProperLockfile = typeof import("proper-lockfile");
let properLockfile: Promise<ProperLockfile> | undefined;

/**
 * proper-lockfile (with graceful-fs, signal-exit and retry, which patch `fs` and hook the process's exit), loaded at
 * the first lock attempt that needs it: a waiter that finds the lock held never does, nor does a command that
 * only reads (`status`). Its exit hook is thus in place before any lock of this process exists. Long-running hosts
 * load it after their start-up ({@link preloadLockfile}).
 */
const loadLockfile = (): Promise<ProperLockfile> => {
  properLockfile ??= import("proper-lockfile").then((loaded) =>
    "lock" in loaded ? loaded : (loaded as { readonly default: ProperLockfile }).default,
  );
  return properLockfile;
};

/** Loads proper-lockfile now (off any critical path), so that the first lock attempt does not. */
export const preloadLockfile = (): void => {
  loadLockfile().catch(() => undefined);
};

/** Every proper-lockfile setting, in one place. */
export const LOCK_OPTIONS = {
  /** A lock whose heartbeat mtime is older than this is stale (the fallback bound, see the module comment). */
  staleMs: 10_000,
  /** Heartbeat (mtime refresh) interval. proper-lockfile clamps it to [1 s, staleMs / 2]. */
  updateMs: 2_500,
  /** Waiting is done by the protocol, woken by the watcher: never retry inside proper-lockfile. */
  retries: 0,
  /** The locked "file" is the account directory; paths below BATON_HOME are never symlinks. */
  realpath: false,
} as const;

export interface FileLockOptions {
  /** BATON_HOME. */
  readonly home: string;
  /** Overrides of the timing constants (tests). proper-lockfile enforces stale ≥ 2 s and update ≥ 1 s. */
  readonly timing?: { readonly staleMs?: number; readonly updateMs?: number };
}

export const make = (options: FileLockOptions, identity: HostIdentityShape): AccountLockShape => {
  const { home } = options;
  const staleMs = options.timing?.staleMs ?? LOCK_OPTIONS.staleMs;
  const updateMs = options.timing?.updateMs ?? LOCK_OPTIONS.updateMs;
  const toLockFailure = (failure: { readonly message: string }) =>
    new LockFailure({ reason: "io", message: failure.message });
  /**
   * The account directory, checked (no symlinks, 0700) and created when missing. An existing one is checked with
   * synchronous calls and no promise: every lock attempt and watch of a waiter goes through here.
   */
  const ensureAccountDir = (account: AccountRef) =>
    runFsSync("prepare the account directory", describeAccount(home, account), (warn) =>
      secureDirSync(home, accountParts(home, account), warn),
    ).pipe(
      Effect.flatMap((existing) =>
        existing !== undefined
          ? Effect.succeed(existing)
          : runFs(
              "prepare the account directory",
              describeAccount(home, account),
              async (warn) =>
                (await secureDir(home, accountParts(home, account), true, warn)) ?? describeAccount(home, account),
            ),
      ),
      Effect.mapError(toLockFailure),
    );

  /**
   * One proper-lockfile attempt: a lease, or "held". `logWarning` reports from outside any fiber (proper-lockfile's
   * heartbeat timer) through the services of the fiber that took the lock.
   */
  const attempt = (
    accountDir: string,
    logWarning: (message: string) => void,
  ): Effect.Effect<LockLease | "held", LockFailure> =>
    Effect.tryPromise({
      try: async () => {
        const lockDir = `${accountDir}${sep}${LOCK_DIR}`;
        if (lstatSyncOrUndefined(lockDir)?.isSymbolicLink() === true) {
          throw new LockFailure({ reason: "io", message: `refusing ${lockDir}: it is a symbolic link` });
        }
        const owner: LockOwner = { host: identity.host, pid: identity.pid, nonce: randomBytes(8).toString("hex") };
        const state = { lost: false, released: false };
        let unlock: () => Promise<void>;
        try {
          const lockfile = await loadLockfile();
          unlock = await lockfile.lock(accountDir, {
            lockfilePath: lockDir,
            stale: staleMs,
            update: updateMs,
            retries: LOCK_OPTIONS.retries,
            realpath: LOCK_OPTIONS.realpath,
            fs: lockFs(owner),
            onCompromised: (error) => {
              state.lost = true;
              logWarning(`the lock ${lockDir} was lost (${error.message}); this process no longer holds it`);
            },
          });
        } catch (error) {
          const code = errorCode(error);
          if (code === "ELOCKED" || code === "EEXIST") return "held" as const;
          throw error;
        }
        const release = Effect.promise(async () => {
          if (state.released) return;
          state.released = true;
          if (state.lost) return;
          // Never remove a lock that someone else took over while we were stalled.
          if ((await readOwner(lockDir))?.nonce !== owner.nonce) {
            state.lost = true;
            logWarning(`the lock ${lockDir} was taken over by another process before it was released`);
            return;
          }
          await unlock().catch(() => undefined);
        });
        const lease: LockLease = { release, lost: Effect.sync(() => state.lost) };
        return lease;
      },
      catch: (error) =>
        error instanceof LockFailure
          ? error
          : new LockFailure({
              reason: "io",
              message: `could not take the lock in ${accountDir} (${errorCode(error) ?? String(error)})`,
            }),
    });

  /**
   * A cheap look before proper-lockfile: when the lock directory exists and its heartbeat is fresh, proper-lockfile
   * would only fail with ELOCKED after a `mkdir` and a `stat`, so go straight to the owner check. A waiter woken many
   * times thus costs one `lstat` per look (docs/performance.md, herd).
   */
  const freshLockDir = (lockDir: string): Effect.Effect<boolean, LockFailure> =>
    Effect.try({
      try: () => {
        const existing = lstatSyncOrUndefined(lockDir);
        if (existing?.isSymbolicLink() === true) {
          throw new LockFailure({ reason: "io", message: `refusing ${lockDir}: it is a symbolic link` });
        }
        // proper-lockfile's own stale rule (heartbeat mtime against this host's clock); see the module comment.
        return existing !== undefined && existing.mtimeMs >= Date.now() - staleMs;
      },
      catch: (error) =>
        error instanceof LockFailure
          ? error
          : new LockFailure({
              reason: "io",
              message: `could not look at ${lockDir} (${errorCode(error) ?? String(error)})`,
            }),
    });

  const tryAcquire = (account: AccountRef): Effect.Effect<LockLease | undefined, LockFailure> =>
    Effect.gen(function* () {
      const accountDir = yield* ensureAccountDir(account);
      const lockDir = `${accountDir}${sep}${LOCK_DIR}`;
      const context = yield* Effect.context<never>();
      const logWarning = (message: string) => {
        Effect.runForkWith(context)(Effect.logWarning(message));
      };
      if (!(yield* freshLockDir(lockDir))) {
        const first = yield* attempt(accountDir, logWarning);
        if (first !== "held") return first;
      }
      const owner = readOwnerSync(lockDir);
      if (owner === undefined || owner.host !== identity.host || owner.pid === identity.pid) return undefined;
      if ((yield* identity.isAlive(owner.host, owner.pid)) !== "dead") return undefined;
      const gone = yield* Effect.tryPromise({
        try: () => recoverDeadLock(accountDir, owner),
        catch: (error) =>
          new LockFailure({
            reason: "io",
            message:
              `could not remove the lock of dead process ${owner.pid} in ${accountDir} ` +
              `(${errorCode(error) ?? String(error)})`,
          }),
      });
      if (gone === "kept") return undefined;
      if (gone === "removed") {
        yield* Effect.logWarning(`recovered the lock ${lockDir} of dead process ${owner.pid}`);
      }
      const second = yield* attempt(accountDir, logWarning);
      return second === "held" ? undefined : second;
    }).pipe(withMutex(`${describeAccount(home, account)}${sep}${LOCK_DIR}`));

  const watch = (account: AccountRef): Effect.Effect<ChangeWatcher, LockFailure, Scope.Scope> =>
    Effect.gen(function* () {
      const accountDir = yield* ensureAccountDir(account);
      const shared = yield* Effect.acquireRelease(
        Effect.sync(() => acquireWatch(accountDir)),
        (entry) => Effect.sync(() => releaseWatch(accountDir, entry)),
      );
      if (shared.broken) yield* Effect.logWarning(`could not watch ${accountDir}; waiters poll it instead`);
      return makeWatcher(shared);
    });

  return { tryAcquire, watch };
};

/** The file lock as a layer; needs HostIdentity (owner records and liveness of dead holders). */
export const layer = (options: FileLockOptions): Layer.Layer<AccountLock, never, HostIdentity> =>
  Layer.effect(
    AccountLock,
    Effect.gen(function* () {
      const identity = yield* HostIdentity;
      return AccountLock.of(make(options, identity));
    }),
  );
