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
 * - Holders on this host (I5): the lock directory's owner record decides, never the wall clock. A live owner's lock
 *   (`HostIdentity.isAlive` → "alive", or another instance in this process) is never taken over, however old its
 *   heartbeat looks — a wall clock that jumps forward would otherwise make every heartbeat stale. A dead owner's lock
 *   (`kill(pid, 0)` says ESRCH) is recovered at once: an exclusive recovery marker for that dead lock (one recoverer at
 *   a time), a rename of the lock directory to a unique tombstone, a check that the tombstone carries the dead owner's
 *   nonce, its removal and one more attempt (see lock-owner.ts). A SIGKILLed holder thus blocks others for
 *   milliseconds (measured by the tests: ~4-14 ms from the kill) once its parent has reaped it. SIGINT/SIGTERM/normal
 *   exits remove the lock at once (proper-lockfile's exit hook, or the holder's own release).
 * - Bound for everything else (no readable owner record, an owner on another host sharing this home): proper-lockfile's
 *   stale rule — the heartbeat mtime is older than `staleMs`. The heartbeat runs every `updateMs` and its first mtime
 *   may lie up to 1 s ahead, so such a lock is taken over at most ~11 s after its holder died (plus the waiter's watch
 *   fallback interval). Comparing the mtime with this host's clock is used only as this fallback bound, never for
 *   safety (I1 rests on the claim). A holder whose own heartbeat declares the lock compromised (a stalled event loop,
 *   a clock jump) still removes its directory on release when the owner record carries its nonce.
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
import { type LockOwner, lockFs, readOwnerSync, recoverDeadLock, removeOwnLock } from "./lock-owner.ts";
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

export { type LockOwner, readOwnerSync } from "./lock-owner.ts";
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
          // Never remove a lock that someone else took over while we were stalled.
          if (readOwnerSync(lockDir)?.nonce !== owner.nonce) {
            state.lost = true;
            logWarning(`the lock ${lockDir} was taken over by another process before it was released`);
            return;
          }
          // proper-lockfile forgets a lock it declared compromised (e.g. its heartbeat saw the wall clock jump): the
          // directory is still ours (the nonce says so), so it is removed the way a dead holder's would be.
          if (state.lost) await removeOwnLock(accountDir, owner).catch(() => undefined);
          else await unlock().catch(() => undefined);
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

  /** The lock directory's `lstat`, or `undefined` when there is none; a symlink there is refused. */
  const lookAtLockDir = (lockDir: string) =>
    Effect.try({
      try: () => {
        const existing = lstatSyncOrUndefined(lockDir);
        if (existing?.isSymbolicLink() === true) {
          throw new LockFailure({ reason: "io", message: `refusing ${lockDir}: it is a symbolic link` });
        }
        return existing;
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
      const existing = yield* lookAtLockDir(lockDir);
      if (existing === undefined) {
        const first = yield* attempt(accountDir, logWarning);
        return first === "held" ? undefined : first;
      }
      const owner = readOwnerSync(lockDir);
      if (owner !== undefined && owner.host === identity.host) {
        // I5: a lock of a live process on this host is never taken over, whatever its heartbeat's mtime says (a wall
        // clock that jumped forward makes every heartbeat look stale). Another instance in this process is alive too.
        if (owner.pid === identity.pid) return undefined;
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
        if (gone === "removed") yield* Effect.logWarning(`recovered the lock ${lockDir} of dead process ${owner.pid}`);
        const second = yield* attempt(accountDir, logWarning);
        return second === "held" ? undefined : second;
      }
      // No readable owner, or one on another host (a home shared over the network): proper-lockfile's stale rule is
      // the only bound left (see the module comment). A fresh heartbeat means held, without a `mkdir` attempt.
      if (existing.mtimeMs >= Date.now() - staleMs) return undefined;
      const stale = yield* attempt(accountDir, logWarning);
      return stale === "held" ? undefined : stale;
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
