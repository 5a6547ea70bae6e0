/**
 * Waiting for an account's lock the way followers must (I6): try the lock; while a live process holds it, let the
 * caller look at the store (it may settle the wait, e.g. by adopting a newer generation), then sleep on the change
 * watcher — woken by file-system or database notifications, with a safety-net timeout — until the lock is free or the
 * bounded wait (60 s by default) runs out with a retryable error, never a logout. The bound is measured on the
 * monotonic clock: a wall-clock jump neither ends a wait early nor stretches it (I5).
 */
import { Clock, Effect, type Scope } from "effect";
import { type AccountRef, accountKey } from "../account.ts";
import { Retryable } from "../errors.ts";
import { AccountLock, type ChangeWatcher } from "../ports/lock.ts";
import { RefreshSettings } from "./settings.ts";

export type LockWait<A> =
  | {
      readonly _tag: "Locked";
      readonly waited: boolean;
      readonly waitedMs: number;
      /** Wall-clock start of the wait (for the record), when there was one. */
      readonly waitedFrom: number | undefined;
    }
  | { readonly _tag: "Settled"; readonly value: A; readonly waitedFrom: number | undefined };

const lockError = (account: AccountRef) => (e: { readonly message: string }) =>
  new Retryable({ account: accountKey(account), reason: "store-unavailable", message: e.message });

/** Milliseconds on the monotonic clock. */
export const monotonicMillis = Effect.map(Clock.monotonicTimeNanos, (nanos) => Number(nanos / 1_000_000n));

/**
 * Takes the account lock (released when the scope closes), or settles early with what `whileBusy` returns when it
 * returns something other than `undefined`.
 */
export const waitForLock = <A, E, R>(
  account: AccountRef,
  whileBusy: Effect.Effect<A | undefined, E, R>,
): Effect.Effect<LockWait<A>, E | Retryable, R | AccountLock | Scope.Scope> =>
  Effect.gen(function* () {
    const lock = yield* AccountLock;
    const settings = yield* RefreshSettings;
    const start = yield* monotonicMillis;
    let watcher: ChangeWatcher | undefined;
    let waitedFrom: number | undefined;
    // After a wake-up the store is looked at before the lock: a new generation settles the wait without touching the
    // lock at all, which is what most wake-ups of a herd of followers are for.
    let lookedSinceWake = false;
    while (true) {
      const lease = yield* lock.tryAcquire(account).pipe(Effect.mapError(lockError(account)));
      const now = yield* monotonicMillis;
      if (lease !== undefined) {
        yield* Effect.addFinalizer(() => lease.release);
        return { _tag: "Locked", waited: waitedFrom !== undefined, waitedMs: now - start, waitedFrom } as const;
      }
      waitedFrom ??= yield* Clock.currentTimeMillis;
      if (watcher === undefined) {
        // Watch only once the lock is found held (a holder that gets it at once never watches, and is not woken by
        // its own writes), then try again at once: a release between that attempt and the watch is not missed.
        watcher = yield* lock.watch(account).pipe(Effect.mapError(lockError(account)));
        continue;
      }
      if (!lookedSinceWake) {
        const settled = yield* whileBusy;
        if (settled !== undefined) return { _tag: "Settled", value: settled, waitedFrom } as const;
      }
      const remaining = start + settings.lockWaitMs - now;
      if (remaining <= 0) {
        return yield* new Retryable({
          account: accountKey(account),
          reason: "lock-timeout",
          message: `another process has held the lock of ${accountKey(account)} for ${Math.round(settings.lockWaitMs / 1000)} s; try again`,
        });
      }
      yield* watcher.next(Math.min(settings.watchFallbackMs, remaining));
      const settled = yield* whileBusy;
      if (settled !== undefined) return { _tag: "Settled", value: settled, waitedFrom } as const;
      lookedSinceWake = true;
    }
  });

/** Runs `body` holding the account's lock, waiting like any follower. */
export const withAccountLock = <A, E, R>(account: AccountRef, body: Effect.Effect<A, E, R>) =>
  Effect.scoped(Effect.andThen(waitForLock(account, Effect.succeed(undefined)), body));
