/**
 * The refresh protocol of SPEC §3 as an Effect program: given an account and what the caller already holds, obtain
 * credentials that are fresh, refreshing at most once per generation across every process sharing the stores.
 *
 *   3. re-read the store (a sibling may have refreshed: adopt) → 4. take the lock, waiting on change notifications
 *   while serving a still-valid token → 5. re-read under the lock, take the exclusive claim for generation g →
 *   6. present, persist g+1 compare-and-set, record events → 7. classify failures (invalid_grant → I4; not processed →
 *   release the claim, keep the token, back off; in doubt → I9).
 *
 * docs/refresh-protocol.md explains each step and the failure it prevents.
 */
import { Clock, Effect, Result } from "effect";
import { type AccountRef, accountKey } from "../account.ts";
import { type Credentials, describeCredentials, nextGeneration, widensScope } from "../credentials.ts";
import { InvalidInput, LoginRequired, type NotFound, type Retryable } from "../errors.ts";
import { freshness } from "../policy.ts";
import { ClaimStore } from "../ports/claim-store.ts";
import type { EventStore } from "../ports/event-store.ts";
import { HostIdentity } from "../ports/host.ts";
import { AccountLock } from "../ports/lock.ts";
import { ProviderDirectory, type ProviderProfile } from "../ports/providers.ts";
import type { SecretStore } from "../ports/secret-store.ts";
import { TokenEndpoint } from "../ports/token-endpoint.ts";
import { replay, stateName } from "../replay.ts";
import { decideClaim } from "./claims.ts";
import { classifyFailure, revokeInDoubt } from "./failures.ts";
import { foldEvents, readSecrets, record, retryable } from "./journal.ts";
import { waitForLock } from "./lock-wait.ts";
import { persistNext } from "./persist.ts";
import { ProtocolHooks, ProtocolVariant, RefreshSettings, RotationObserver } from "./settings.ts";

export interface RefreshOptions {
  /** Refresh even if the stored token is fresh (`baton refresh`), unless a sibling already did since `known`. */
  readonly force: boolean;
  /** The generation the caller holds, if any: anything newer in the store is adopted instead of refreshing. */
  readonly known: Credentials | undefined;
}

/** Fresh enough to hand out without a refresh. */
const usable = (credentials: Credentials, now: number, thresholdMs: number) =>
  freshness(credentials, now, thresholdMs) === "fresh";

const noCredentials = (account: AccountRef) =>
  new LoginRequired({
    account: accountKey(account),
    reason: "no-credentials",
    message: `no credentials for ${accountKey(account)}; run \`baton login ${accountKey(account)}\``,
  });

/**
 * Obtains fresh credentials for `account` under the protocol. When another live process is presenting the same
 * generation (possible only after a lease takeover), this process never presents: it waits for that outcome — the
 * new generation appearing in the store — within the same bounded wait as for the lock (I6).
 */
export const refreshAccount = Effect.fnUntraced(function* (account: AccountRef, options: RefreshOptions) {
  const settings = yield* RefreshSettings;
  const deadline = (yield* Clock.currentTimeMillis) + settings.lockWaitMs;
  while (true) {
    const outcome = yield* Effect.result(refreshOnce(account, options));
    if (Result.isSuccess(outcome)) return outcome.success;
    const error = outcome.failure;
    const now = yield* Clock.currentTimeMillis;
    if (!(error._tag === "Retryable" && error.reason === "in-flight-elsewhere" && now < deadline)) {
      return yield* Effect.fail(error);
    }
    yield* Effect.logDebug(`${accountKey(account)}: ${error.message}; waiting for its outcome`);
    yield* waitForOutcome(account, Math.min(now + settings.watchFallbackMs, deadline));
  }
});

/**
 * Waits, after finding another live process presenting the generation, until the store changes (its outcome) or
 * `until`. Changes of the lock alone do not end the wait: other waiters taking and releasing the lock in turn would
 * otherwise wake each other into a loop of lock attempts (each recording `lock.waited`) for as long as the
 * presentation lasts.
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
        const remaining = until - (yield* Clock.currentTimeMillis);
        if (remaining <= 0) return;
        if (watcher === undefined) return yield* Effect.sleep(remaining);
        yield* watcher.next(remaining);
        if ((yield* readSecrets(account))?.generation !== seen) return;
      }
    }),
  );

const refreshOnce = Effect.fnUntraced(function* (account: AccountRef, options: RefreshOptions) {
  const settings = yield* RefreshSettings;
  // A forced refresh is satisfied by a generation newer than the one the caller held (or, holding none, newer than
  // the one first read here): a sibling rotated since the request began.
  const start = yield* Clock.currentTimeMillis;

  // Step 3: re-read the store; a sibling may already have refreshed.
  const before = yield* readSecrets(account);
  if (before === undefined) {
    // An unknown provider is the better message than "log in" (which would fail the same way).
    yield* ProviderDirectory.use((providers) => providers.get(account.provider));
    return yield* noCredentials(account);
  }
  const baseline = options.known?.generation ?? before.generation;
  if (usable(before, start, settings.thresholdMs) && (!options.force || before.generation > baseline)) {
    yield* Effect.logDebug(`${accountKey(account)}: generation ${before.generation} in the store is fresh; adopted`);
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
          return current;
        }
        // Keep serving a still-valid token while the holder refreshes.
        if (!options.force && state === "expiring") {
          yield* Effect.logDebug(`${accountKey(account)}: another process holds the lock; serving the valid token`);
          return current;
        }
        return undefined;
      });
      const wait = yield* waitForLock(account, whileBusy);
      if (wait._tag === "Settled") return wait.value;
      if (wait.waited) yield* record(account, { type: "lock.waited", waitedMs: wait.waitedMs });
      return yield* underLock(account, options, before);
    }),
  );
});

/** Step 5 onwards, holding the lock. */
const underLock = Effect.fnUntraced(function* (account: AccountRef, options: RefreshOptions, before: Credentials) {
  const settings = yield* RefreshSettings;
  const hooks = yield* ProtocolHooks;
  const variant = yield* ProtocolVariant;
  const host = yield* HostIdentity;
  const claims = yield* ClaimStore;
  const key = accountKey(account);
  yield* hooks.at("locked", account);

  const now = yield* Clock.currentTimeMillis;
  const current = variant.skipRereadUnderLock ? before : yield* readSecrets(account);
  if (current === undefined) return yield* noCredentials(account);
  if (current.generation > before.generation && usable(current, now, settings.thresholdMs)) return current;
  if (!options.force && usable(current, now, settings.thresholdMs)) return current;
  if (options.force && current.generation > (options.known?.generation ?? before.generation)) return current;
  // Only the process about to present needs the provider's profile: followers that adopt never read the registry.
  const profile = yield* ProviderDirectory.use((providers) => providers.get(account.provider));

  const folded = yield* foldEvents(account, settings.thresholdMs);
  const snapshot = replay([], { from: folded.snapshot, now });
  if (stateName(snapshot) === "revoked" && snapshot.context.generation >= current.generation) {
    return yield* new LoginRequired({
      account: key,
      reason: snapshot.context.revokedReason === "in-doubt" ? "in-doubt" : "revoked",
      message: `${key} was revoked (${snapshot.context.revokedReason ?? "invalid_grant"}); run \`baton login ${key}\``,
    });
  }
  if (current.refreshToken === undefined) {
    return yield* new LoginRequired({
      account: key,
      reason: "no-refresh-token",
      message: `${key} has no refresh token; run \`baton login ${key}\``,
    });
  }

  const g = current.generation;
  const storeError = (failure: { readonly message: string }) =>
    retryable(account, "store-unavailable", failure.message);
  const existing = variant.skipClaim ? [] : yield* claims.list(account, g).pipe(Effect.mapError(storeError));
  const decision = yield* decideClaim(existing, now, settings.remoteInFlightMs);
  let attempt: number;
  switch (decision.kind) {
    case "in-flight":
      return yield* retryable(
        account,
        "in-flight-elsewhere",
        `process ${decision.claim.claimant.pid} on ${decision.claim.claimant.host} is refreshing ${key}; try again`,
      );
    case "in-doubt": {
      // In doubt means "a presented claim for g and no g+1": confirm there is still no g+1 (another holder may have
      // stored it since we read).
      const latest = variant.skipRereadUnderLock ? current : yield* readSecrets(account);
      if (latest !== undefined && latest.generation > g) return latest;
      const seen = snapshot.context.inDoubt;
      if (seen?.generation !== g || seen.attempt !== decision.claim.attempt) {
        yield* record(account, {
          type: "refresh.in-doubt",
          generation: g,
          attempt: decision.claim.attempt,
          claimant: decision.claim.claimant,
        });
      }
      const graceMs = profile.graceWindowSeconds * 1000;
      if (!(graceMs > 0 && decision.presented === 1 && now - decision.claim.claimant.at <= graceMs)) {
        return yield* revokeInDoubt(account, g, decision.claim.claimant);
      }
      attempt = decision.attempt;
      break;
    }
    case "present":
      attempt = decision.attempt;
  }
  return yield* present(account, profile, current, attempt, host, decision.kind === "in-doubt");
});

/** Claim, present, persist; classify the outcome. */
const present = Effect.fnUntraced(function* (
  account: AccountRef,
  profile: ProviderProfile,
  current: Credentials,
  attempt: number,
  host: HostIdentity["Service"],
  /** This presentation is already the one retry of an in-doubt generation. */
  isRetry: boolean,
): Effect.fn.Return<
  Credentials,
  LoginRequired | Retryable | InvalidInput | NotFound,
  SecretStore | ClaimStore | TokenEndpoint | HostIdentity | EventStore
> {
  const hooks = yield* ProtocolHooks;
  const variant = yield* ProtocolVariant;
  const claims = yield* ClaimStore;
  const endpoint = yield* TokenEndpoint;
  const g = current.generation;
  const key = accountKey(account);
  const storeError = (failure: { readonly message: string }) =>
    retryable(account, "store-unavailable", failure.message);

  const claimedAt = yield* Clock.currentTimeMillis;
  if (!variant.skipClaim) {
    const won = yield* claims
      .claim(account, g, attempt, { host: host.host, pid: host.pid, at: claimedAt })
      .pipe(Effect.mapError(storeError));
    if (!won) return yield* retryable(account, "in-flight-elsewhere", `another process claimed ${key} generation ${g}`);
  }
  yield* record(account, { type: "refresh.claimed", generation: g, attempt });
  yield* Effect.logDebug(`${key}: claimed generation ${g} (attempt ${attempt}); presenting its refresh token`);
  yield* hooks.at("claimed", account);
  if (!variant.skipClaim) yield* claims.markPresenting(account, g, attempt).pipe(Effect.mapError(storeError));
  yield* hooks.at("presenting", account);

  const answer = yield* Effect.result(
    endpoint.refresh({
      account,
      issuer: profile.issuer,
      clientId: profile.clientId,
      refreshToken: current.refreshToken ?? "",
      scope: current.scope,
    }),
  );
  yield* hooks.at("answered", account);
  const now = yield* Clock.currentTimeMillis;

  if (Result.isSuccess(answer)) {
    const tokens = answer.success;
    if (widensScope(current.scope, tokens.scope)) {
      // The server rotated but answered with more than was granted: refuse it (I10). The claim stays presenting,
      // so the next process sees an in-doubt generation rather than silently accepting a wider grant.
      return yield* new InvalidInput({
        reason: "config",
        message: `the provider answered ${key}'s refresh with a wider scope than granted; refused`,
      });
    }
    const next = nextGeneration(current, tokens, now);
    yield* persistNext(account, current, next);
    const summary = describeCredentials(next);
    yield* record(account, {
      type: "credentials.stored",
      generation: next.generation,
      source: "refresh",
      accessFp: summary.accessFp,
      ...(summary.refreshFp === undefined ? {} : { refreshFp: summary.refreshFp }),
      expiresAt: next.expiresAt,
      ...(next.scope === undefined ? {} : { scope: next.scope }),
    });
    (yield* RotationObserver).rotated(account, next.generation);
    yield* hooks.at("persisted", account);
    yield* Effect.logDebug(`${key}: rotated generation ${g} → ${next.generation} (access ${summary.accessFp})`);
    return next;
  }

  const retryInGrace = isRetry ? undefined : present(account, profile, current, attempt + 1, host, true);
  return yield* classifyFailure(account, profile, current, attempt, answer.failure, retryInGrace);
});
