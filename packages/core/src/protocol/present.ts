/**
 * Step 6 of the refresh protocol: with the claim on attempt *a* of generation *g* granted, record the claim, present
 * the refresh token once, and store generation g+1 compare-and-set before anything else happens (I3) — then the
 * event, then the pruning of superseded claims.
 *
 * Signals and interruptions (SPEC §6): until the claim is marked presenting nothing has left, so an interruption then
 * releases the claim (the next process may present at once). From "presenting" to "stored" the section cannot be
 * interrupted: a process asked to stop waits for the answer (bounded by the request's own timeout) and stores it,
 * because a rotation the server made and nobody stored would log every process out.
 *
 * An answer that carries a new refresh token is stored whatever else is wrong with it (the rotation happened): an
 * access token that must not be handed out (a wider scope than granted, I10) is stored as already expired, and the
 * problem is reported after the store.
 */
import { Clock, Effect, Result } from "effect";
import { type AccountRef, accountKey } from "../account.ts";
import { type Credentials, describeCredentials, nextGeneration, type TokenSet, widensScope } from "../credentials.ts";
import { InvalidInput } from "../errors.ts";
import { fingerprint } from "../fingerprint.ts";
import { ClaimStore } from "../ports/claim-store.ts";
import { TokenEndpoint } from "../ports/token-endpoint.ts";
import { classifyFailure } from "./failures.ts";
import type { Present } from "./flight.ts";
import { type EventPayload, record, retryable } from "./journal.ts";
import { persistNext } from "./persist.ts";
import { ProtocolHooks, RotationObserver } from "./settings.ts";

/** Clock skews beyond this are reported with the stored generation (never used for safety, I5). */
const SKEW_WARN_MS = 30_000;

/** Claim recorded, present, persist; classify the outcome. `isRetry`: this is the one retry of an in-doubt attempt. */
export const present: Present = Effect.fnUntraced(function* (account, profile, current, attempt, options, isRetry) {
  const hooks = yield* ProtocolHooks;
  const claims = yield* ClaimStore;
  const endpoint = yield* TokenEndpoint;
  const g = current.generation;
  const key = accountKey(account);
  const storeError = (failure: { readonly message: string }) =>
    retryable(account, "store-unavailable", failure.message);
  const refreshToken = current.refreshToken ?? "";

  // Nothing has left yet: an interruption from here to "presenting" releases the claim.
  const beforeSending = Effect.gen(function* () {
    yield* record(account, { type: "refresh.claimed", generation: g, attempt, refreshFp: fingerprint(refreshToken) });
    yield* Effect.logDebug(`${key}: claimed generation ${g} (attempt ${attempt}); presenting its refresh token`);
    yield* hooks.at("claimed", account);
  }).pipe(
    Effect.onInterrupt(() => claims.release(account, g, attempt, "interrupted before sending").pipe(Effect.ignore)),
  );
  yield* beforeSending;

  const sendAndStore = Effect.gen(function* () {
    yield* claims.markPresenting(account, g, attempt).pipe(Effect.mapError(storeError));
    yield* hooks.at("presenting", account);
    if (options.trace !== undefined) options.trace.sentAt = yield* Clock.currentTimeMillis;
    const answer = yield* Effect.result(
      endpoint.refresh({
        account,
        issuer: current.issuer,
        clientId: current.clientId,
        refreshToken,
        scope: current.scope,
      }),
    );
    if (options.trace !== undefined) options.trace.answeredAt = yield* Clock.currentTimeMillis;
    yield* hooks.at("answered", account);
    if (Result.isFailure(answer)) return { _tag: "Failed", failure: answer.failure } as const;
    // I10 whatever the adapter checked: a wider scope than granted keeps the rotation, never the access token.
    const tokens: TokenSet =
      answer.success.withheld === undefined && widensScope(current.scope, answer.success.scope)
        ? { ...answer.success, withheld: "a wider scope than granted" }
        : answer.success;
    const stored = yield* store(account, current, tokens, attempt);
    return { _tag: "Stored", stored, tokens } as const;
  });
  const outcome = yield* Effect.uninterruptible(sendAndStore);
  if (outcome._tag === "Failed") {
    return yield* classifyFailure(account, profile, current, attempt, outcome.failure, options, isRetry, present);
  }
  yield* hooks.at("persisted", account);
  if (options.trace !== undefined) options.trace.outcome = "refreshed";
  const { stored, tokens } = outcome;
  if (tokens.withheld !== undefined) {
    return yield* new InvalidInput({
      reason: "config",
      message:
        `the provider answered ${key}'s refresh with ${tokens.withheld}; the new refresh token was stored (the ` +
        `rotation is kept) but the access token is refused`,
    });
  }
  return stored;
});

/**
 * Stores g+1 (I2, I3), then records it — in the same transaction when the store can (`SecretStore.writeRecorded`);
 * otherwise the event and the pruning are best effort once the secret is durable.
 */
const store = (account: AccountRef, current: Credentials, tokens: TokenSet, attempt: number) =>
  Effect.gen(function* () {
    const claims = yield* ClaimStore;
    const key = accountKey(account);
    const now = yield* Clock.currentTimeMillis;
    const next = nextGeneration(current, tokens, now);
    const summary = describeCredentials(next);
    const skew = tokens.clockSkewMs;
    const problems = [
      ...(tokens.problems ?? []),
      ...(tokens.withheld === undefined ? [] : [`access token withheld: ${tokens.withheld}`]),
      ...(skew !== undefined && Math.abs(skew) > SKEW_WARN_MS
        ? [
            `this machine's clock is ${Math.round(Math.abs(skew) / 1000)} s ${skew > 0 ? "ahead of" : "behind"} the server's`,
          ]
        : []),
    ];
    const event: EventPayload = {
      type: "credentials.stored",
      generation: next.generation,
      source: "refresh",
      accessFp: summary.accessFp,
      ...(summary.refreshFp === undefined ? {} : { refreshFp: summary.refreshFp }),
      expiresAt: next.expiresAt,
      ...(next.scope === undefined ? {} : { scope: next.scope }),
      ...(skew === undefined ? {} : { clockSkewMs: skew }),
      ...(problems.length === 0 ? {} : { problems }),
    };
    const persisted = yield* persistNext(account, current, next, attempt, event);
    const stored = persisted.credentials;
    if (stored.generation !== next.generation || stored.accessToken !== next.accessToken) return stored;
    for (const problem of problems) yield* Effect.logWarning(`${key}: ${problem} (the new generation was stored)`);
    if (!persisted.recorded) {
      yield* record(account, event).pipe(
        Effect.catch((failure) =>
          Effect.logWarning(
            `${key}: generation ${next.generation} is stored, but its event was not (${failure.message})`,
          ),
        ),
      );
    }
    yield* claims.prune(account, current.generation).pipe(Effect.ignore);
    (yield* RotationObserver).rotated(account, next.generation);
    yield* Effect.logDebug(
      `${key}: rotated generation ${current.generation} → ${next.generation} (access ${summary.accessFp})`,
    );
    return next;
  });
