/**
 * Step 7 of the refresh protocol: what a failed presentation means for the account.
 *
 * - `invalid_grant` re-reads the store (a sibling may have won) before declaring the account revoked, keeping the
 *   last record (I4);
 * - a request the server did not process (never sent; refused with 503 or 429) releases its claim and keeps the
 *   current token, recording the failure — with the server's `Retry-After` — so every process backs off (under-lock.ts);
 *   a forced refresh that did not rotate is a retryable failure, never a success;
 * - a request whose outcome is unknown (sent, and no usable answer: a timeout, a reset, a 500/502/504 that a gateway
 *   may return after the server rotated) is in doubt (I9, in-doubt.ts).
 */
import { Clock, Effect } from "effect";
import { type AccountRef, accountKey } from "../account.ts";
import type { Credentials } from "../credentials.ts";
import { InvalidInput, LoginRequired, type TokenEndpointFailure } from "../errors.ts";
import { fingerprint } from "../fingerprint.ts";
import { freshness } from "../policy.ts";
import { ClaimStore } from "../ports/claim-store.ts";
import { HostIdentity } from "../ports/host.ts";
import type { ProviderProfile } from "../ports/providers.ts";
import type { Present, RefreshOptions } from "./flight.ts";
import { resolveInDoubt } from "./in-doubt.ts";
import { readSecrets, record, retryable } from "./journal.ts";

const skewNote = (failure: TokenEndpointFailure): string =>
  failure.clockSkewMs !== undefined && Math.abs(failure.clockSkewMs) > 30_000
    ? `; note: this machine's clock is ${Math.round(Math.abs(failure.clockSkewMs) / 1000)} s ${failure.clockSkewMs > 0 ? "ahead of" : "behind"} the server's`
    : "";

export const classifyFailure = Effect.fnUntraced(function* (
  account: AccountRef,
  profile: ProviderProfile,
  current: Credentials,
  attempt: number,
  failure: TokenEndpointFailure,
  options: RefreshOptions,
  isRetry: boolean,
  present: Present,
) {
  const claims = yield* ClaimStore;
  const host = yield* HostIdentity;
  const g = current.generation;
  const key = accountKey(account);
  const now = yield* Clock.currentTimeMillis;
  const storeError = (f: { readonly message: string }) => retryable(account, "store-unavailable", f.message);
  yield* Effect.logDebug(
    `${key}: presenting generation ${g} failed: ${failure.reason} (processed: ${failure.processed})`,
  );

  if (failure.reason === "invalid_grant") {
    // I4: a sibling may have won; only a still-stored rejected generation means the account is lost.
    const stored = yield* readSecrets(account);
    if (stored !== undefined && stored.generation > g) {
      if (options.trace !== undefined) options.trace.outcome = "adopted";
      return stored;
    }
    yield* record(
      account,
      { type: "refresh.rejected", generation: g, error: failure.error ?? "invalid_grant" },
      { type: "account.revoked", generation: g, reason: "invalid_grant" },
    );
    return yield* new LoginRequired({
      account: key,
      reason: "revoked",
      message: `the provider rejected ${key}'s refresh token (invalid_grant); run \`baton login ${key}\`${skewNote(failure)}`,
    });
  }

  if (failure.processed === "unknown") {
    // I9: sent, no usable answer — this process's own attempt is in doubt.
    const own = {
      generation: g,
      attempt,
      claimant: { host: host.host, pid: host.pid, at: now },
      presenting: true,
      released: undefined,
      refreshFp: current.refreshToken === undefined ? undefined : fingerprint(current.refreshToken),
      rotated: false,
    };
    yield* Effect.logWarning(`${key}: ${failure.message}${skewNote(failure)}; the outcome is in doubt`);
    const doubt = { claim: own, presented: isRetry ? 2 : 1, nextAttempt: attempt + 1 };
    return yield* resolveInDoubt(account, profile, current, doubt, undefined, options, present);
  }

  // Not processed (never sent, 503, 429) or refused without consuming the grant: the token stays good.
  yield* claims.release(account, g, attempt, failure.reason).pipe(Effect.mapError(storeError));
  yield* record(account, {
    type: "refresh.failed",
    generation: g,
    reason: failure.reason,
    ...(failure.retryAfterMs === undefined ? {} : { retryAfterMs: failure.retryAfterMs }),
  });
  if (failure.reason === "invalid_client" || failure.reason === "oauth_error" || failure.reason === "issuer_mismatch") {
    return yield* new InvalidInput({
      reason: "config",
      message: `the provider refused ${key}'s refresh: ${failure.error ?? failure.reason}${failure.errorDescription ? ` (${failure.errorDescription})` : ""}`,
    });
  }
  const reason =
    failure.reason === "rate_limited" ? "rate-limited" : failure.reason === "server_error" ? "server-error" : "network";
  if (options.force) {
    return yield* retryable(
      account,
      reason,
      `refreshing ${key} failed (${failure.message}); it did not rotate, the current token is kept${skewNote(failure)}`,
      failure.retryAfterMs,
    );
  }
  if (freshness(current, now) !== "expired") {
    if (options.trace !== undefined) options.trace.outcome = "served";
    return current;
  }
  return yield* retryable(
    account,
    reason,
    `refreshing ${key} failed (${failure.message}); the current token is kept, try again later${skewNote(failure)}`,
    failure.retryAfterMs,
  );
});
