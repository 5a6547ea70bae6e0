/**
 * The refresh protocol of SPEC §3 as an Effect program: given an account and what the caller already holds, obtain
 * credentials that are fresh, refreshing at most once per generation across every process sharing the stores.
 *
 *   3. re-read the store (a sibling may have refreshed: adopt) → 4. take the lock, waiting on change notifications
 *   while serving a still-valid token → 5. re-read under the lock, take the exclusive claim for generation g
 *   (under-lock.ts) → 6. present, persist g+1 compare-and-set, record events (present.ts) → 7. classify failures
 *   (failures.ts: invalid_grant → I4; not processed → release the claim, keep the token, back off; in doubt → I9,
 *   in-doubt.ts).
 *
 * This module is steps 3 and 4, and the bounded wait for a presentation another live process is making.
 * docs/refresh-protocol.md explains each step and the failure it prevents.
 */
import { Clock, Effect, Result } from "effect";
import { type AccountRef, accountKey } from "../account.ts";
import { freshness } from "../policy.ts";
import { AccountLock } from "../ports/lock.ts";
import { ProviderDirectory } from "../ports/providers.ts";
import { noCredentials, type RefreshOptions, usable } from "./flight.ts";
import { readSecrets, record } from "./journal.ts";
import { monotonicMillis, waitForLock } from "./lock-wait.ts";
import { RefreshSettings } from "./settings.ts";
import { underLock } from "./under-lock.ts";

/**
 * Obtains fresh credentials for `account` under the protocol. When another live process is presenting the same
 * generation, this process never presents: it waits for that outcome — the new generation appearing in the store —
 * within the same bounded wait as for the lock (I6).
 */
export const refreshAccount = Effect.fnUntraced(function* (account: AccountRef, options: RefreshOptions) {
  const settings = yield* RefreshSettings;
  const deadline = (yield* monotonicMillis) + settings.lockWaitMs;
  while (true) {
    const outcome = yield* Effect.result(refreshOnce(account, options));
    if (Result.isSuccess(outcome)) return outcome.success;
    const error = outcome.failure;
    const now = yield* monotonicMillis;
    if (!(error._tag === "Retryable" && error.reason === "in-flight-elsewhere" && now < deadline)) {
      return yield* Effect.fail(error);
    }
    yield* Effect.logDebug(`${accountKey(account)}: ${error.message}; waiting for its outcome`);
    if (options.trace !== undefined) options.trace.waitedFrom ??= yield* Clock.currentTimeMillis;
    yield* waitForOutcome(account, Math.min(now + settings.watchFallbackMs, deadline));
  }
});

/**
 * Waits, after finding another live process presenting the generation, until the store changes (its outcome) or
 * until `until` on the monotonic clock. Changes of the lock alone do not end the wait: other waiters taking and
 * releasing the lock in turn would otherwise wake each other into a loop of lock attempts (each recording
 * `lock.waited`) for as long as the presentation lasts.
 */
const waitForOutcome = (account: AccountRef, until: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const watcher = yield* AccountLock.use((lock) => lock.watch(account)).pipe(Effect.orElseSucceed(() => undefined));
      const settings = yield* RefreshSettings;
      const stored = yield* readSecrets(account);
      // The outcome may have landed already (between the failed attempt and this watcher): go and adopt it.
      if (stored !== undefined && usable(stored, yield* Clock.currentTimeMillis, settings.thresholdMs)) return;
      const seen = stored?.generation;
      while (true) {
        const remaining = until - (yield* monotonicMillis);
        if (remaining <= 0) return;
        if (watcher === undefined) return yield* Effect.sleep(remaining);
        yield* watcher.next(remaining);
        if ((yield* readSecrets(account))?.generation !== seen) return;
      }
    }),
  );

/** Whether a refresh revokes the previous access token at once (GitLab): then it cannot be served meanwhile. */
const revokedByRefresh = (account: AccountRef) =>
  ProviderDirectory.use((providers) => providers.get(account.provider)).pipe(
    Effect.map((profile) => profile.revokesAccessTokenOnRefresh === true),
    Effect.orElseSucceed(() => false),
  );

const refreshOnce = Effect.fnUntraced(function* (account: AccountRef, options: RefreshOptions) {
  const settings = yield* RefreshSettings;
  const trace = options.trace;
  const start = yield* Clock.currentTimeMillis;

  // Step 3: re-read the store; a sibling may already have refreshed.
  const before = yield* readSecrets(account);
  if (before === undefined) {
    // An unknown provider is the better message than "log in" (which would fail the same way).
    yield* ProviderDirectory.use((providers) => providers.get(account.provider));
    return yield* noCredentials(account);
  }
  // A forced refresh is satisfied by a generation newer than the one the caller held (or, holding none, newer than
  // the one first read here): a sibling rotated since the request began.
  const baseline = options.known?.generation ?? before.generation;
  if (usable(before, start, settings.thresholdMs) && (!options.force || before.generation > baseline)) {
    yield* Effect.logDebug(`${accountKey(account)}: generation ${before.generation} in the store is fresh; adopted`);
    if (trace !== undefined) trace.outcome = "adopted";
    return before;
  }

  // Step 4: take the lock, waiting on change notifications (I6).
  return yield* Effect.scoped(
    Effect.gen(function* () {
      const whileBusy = Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis;
        const current = yield* readSecrets(account);
        if (current === undefined) return undefined;
        const state = freshness(current, now, settings.thresholdMs);
        if (current.generation > before.generation && state !== "expired") {
          yield* Effect.logDebug(`${accountKey(account)}: adopted generation ${current.generation} while waiting`);
          if (trace !== undefined) trace.outcome = "adopted";
          return current;
        }
        // Keep serving a still-valid token while the holder refreshes — unless the provider revokes it at the refresh.
        if (!options.force && state === "expiring" && !(yield* revokedByRefresh(account))) {
          yield* Effect.logDebug(`${accountKey(account)}: another process holds the lock; serving the valid token`);
          if (trace !== undefined) trace.outcome = "served";
          return current;
        }
        return undefined;
      });
      const wait = yield* waitForLock(account, whileBusy);
      if (trace !== undefined && wait.waitedFrom !== undefined) {
        trace.waitedFrom ??= wait.waitedFrom;
        trace.waitedUntil = yield* Clock.currentTimeMillis;
      }
      if (wait._tag === "Settled") return wait.value;
      if (wait.waited) yield* record(account, { type: "lock.waited", waitedMs: wait.waitedMs });
      return yield* underLock(account, options, before);
    }),
  );
});
