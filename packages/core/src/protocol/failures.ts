/**
 * Step 7 of the refresh protocol: what a failed presentation means for the account. `invalid_grant` re-reads the
 * store (a sibling may have won) before declaring the account revoked, keeping the last record (I4); a request that
 * was not processed releases its claim and keeps the current token (retryable with `Retry-After`); a request whose
 * outcome is unknown is recorded in doubt once and gets one retry inside the provider's grace window, else the
 * account is revoked with a message that names who sent it (I9).
 */
import { Clock, Effect } from "effect";
import { type AccountRef, accountKey } from "../account.ts";
import type { Credentials } from "../credentials.ts";
import { InvalidInput, LoginRequired, type TokenEndpointFailure } from "../errors.ts";
import { freshness } from "../policy.ts";
import { ClaimStore } from "../ports/claim-store.ts";
import { HostIdentity } from "../ports/host.ts";
import type { ProviderProfile } from "../ports/providers.ts";
import { SecretStore } from "../ports/secret-store.ts";
import { readSecrets, record, retryable } from "./journal.ts";
import { ProtocolVariant } from "./settings.ts";

export const revokeInDoubt = (
  account: AccountRef,
  generation: number,
  claimant: { host: string; pid: number; at: number },
) =>
  Effect.gen(function* () {
    yield* record(account, { type: "account.revoked", generation, reason: "in-doubt" });
    const key = accountKey(account);
    return yield* new LoginRequired({
      account: key,
      reason: "in-doubt",
      message:
        `the refresh of ${key} generation ${generation} by process ${claimant.pid} on ${claimant.host} ` +
        `(${new Date(claimant.at).toISOString()}) was sent but its answer was never stored; the provider allows no ` +
        `retry, so run \`baton login ${key}\``,
    });
  });

/** Step 7: what a failed presentation means for the account. */
export const classifyFailure = Effect.fnUntraced(function* <E, R>(
  account: AccountRef,
  profile: ProviderProfile,
  current: Credentials,
  attempt: number,
  failure: TokenEndpointFailure,
  /** The one retry allowed inside the provider's grace window, unless this already was it. */
  retryInGrace: Effect.Effect<Credentials, E, R> | undefined,
) {
  const variant = yield* ProtocolVariant;
  const claims = yield* ClaimStore;
  const secrets = yield* SecretStore;
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
    if (stored !== undefined && stored.generation > g) return stored;
    if (variant.blankOnInvalidGrant) yield* secrets.remove(account).pipe(Effect.mapError(storeError));
    yield* record(
      account,
      { type: "refresh.rejected", generation: g, error: failure.error ?? "invalid_grant" },
      { type: "account.revoked", generation: g, reason: "invalid_grant" },
    );
    return yield* new LoginRequired({
      account: key,
      reason: "revoked",
      message: `the provider rejected ${key}'s refresh token (invalid_grant); run \`baton login ${key}\``,
    });
  }

  if (failure.processed === "unknown") {
    // I9: sent, no usable answer. One retry inside a grace window, else revoked with a clear message.
    yield* record(account, {
      type: "refresh.in-doubt",
      generation: g,
      attempt,
      claimant: { host: host.host, pid: host.pid, at: now },
    });
    const graceMs = profile.graceWindowSeconds * 1000;
    if (graceMs > 0 && retryInGrace !== undefined) return yield* retryInGrace;
    return yield* revokeInDoubt(account, g, { host: host.host, pid: host.pid, at: now });
  }

  // Not processed (5xx, 429, never reached) or refused without consuming the grant: the token stays good.
  if (!variant.skipClaim) yield* claims.release(account, g, attempt, failure.reason).pipe(Effect.mapError(storeError));
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
  if (freshness(current, now) !== "expired") return current;
  return yield* retryable(
    account,
    failure.reason === "rate_limited" ? "rate-limited" : failure.reason === "server_error" ? "server-error" : "network",
    `refreshing ${key} failed (${failure.message}); the current token is kept, try again later`,
    failure.retryAfterMs,
  );
});
