/**
 * In doubt (I9): a claim on generation *g* was presented, its claimant is gone (or it is this process, whose answer
 * never came), and no generation g+1 is stored. Whether the server rotated is unknown. It is recorded once, named
 * (host, pid, time), and resolved once — never in a retry loop:
 *
 * 1. a newer generation stored meanwhile settles it (adopt);
 * 2. a claim marked rotated (the server answered, storing failed) is a known loss: login needed;
 * 3. where the provider offers introspection (RFC 7662) to this client, it decides, after a short settling delay (a
 *    gateway that lost the answer may still be waiting on the server): the presented token still `active` means the
 *    server never consumed it — the claim is released and one more attempt is made; `inactive` means it rotated and
 *    the answer is lost — login needed;
 * 4. otherwise a provider profile with a grace window > 0 allows one retry inside that window (the only exception to
 *    I1); without one, the account is revoked with a message naming who sent the request.
 *
 * A provider whose refresh tokens do not rotate (`rotation: "none"`: Google, Entra, Keycloak's default) has nothing to
 * lose: the presented token stays valid whatever happened, so the claim is released and the refresh made once more.
 */
import { Clock, Effect } from "effect";
import { type AccountRef, accountKey } from "../account.ts";
import type { Credentials } from "../credentials.ts";
import { LoginRequired } from "../errors.ts";
import type { ClaimInfo } from "../lifecycle.ts";
import { type ClaimRecord, ClaimStore } from "../ports/claim-store.ts";
import { HostIdentity } from "../ports/host.ts";
import type { ProviderProfile } from "../ports/providers.ts";
import { type IntrospectionOutcome, TokenEndpoint } from "../ports/token-endpoint.ts";
import type { Present, RefreshOptions } from "./flight.ts";
import { readSecrets, record, retryable } from "./journal.ts";
import { RefreshSettings } from "./settings.ts";

export interface Doubt {
  readonly claim: ClaimRecord;
  /** Attempts on *g* presented without being released (1: no retry yet). */
  readonly presented: number;
  readonly nextAttempt: number;
}

const when = (at: number) => new Date(at).toISOString();

export const revokeInDoubt = (account: AccountRef, claim: ClaimRecord, why: string) =>
  Effect.gen(function* () {
    yield* record(account, { type: "account.revoked", generation: claim.generation, reason: "in-doubt" });
    const key = accountKey(account);
    return yield* new LoginRequired({
      account: key,
      reason: "in-doubt",
      message:
        `the refresh of ${key} generation ${claim.generation} by process ${claim.claimant.pid} on ` +
        `${claim.claimant.host} (${when(claim.claimant.at)}) was sent but its answer was never stored; ${why}, so ` +
        `run \`baton login ${key}\``,
    });
  });

export const resolveInDoubt = Effect.fnUntraced(function* (
  account: AccountRef,
  profile: ProviderProfile,
  current: Credentials,
  doubt: Doubt,
  /** The in-doubt claim already recorded in the stream, if any (recorded once). */
  seen: ClaimInfo | undefined,
  options: RefreshOptions,
  present: Present,
) {
  const claims = yield* ClaimStore;
  const host = yield* HostIdentity;
  const settings = yield* RefreshSettings;
  const { claim } = doubt;
  const g = claim.generation;
  const key = accountKey(account);

  // 1. Another holder may have stored g+1 since this process read the store.
  const latest = yield* readSecrets(account);
  if (latest !== undefined && latest.generation > g) {
    if (options.trace !== undefined) options.trace.outcome = "adopted";
    return latest;
  }
  if (seen?.generation !== g || seen.attempt !== claim.attempt) {
    yield* record(account, {
      type: "refresh.in-doubt",
      generation: g,
      attempt: claim.attempt,
      claimant: claim.claimant,
    });
  }

  const retry = Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis;
    const request = { claimant: { host: host.host, pid: host.pid, at: now }, refreshFp: claim.refreshFp };
    const won = yield* claims
      .retry(account, g, doubt.nextAttempt, request)
      .pipe(Effect.mapError((failure) => retryable(account, "store-unavailable", failure.message)));
    if (!won) {
      return yield* retryable(account, "in-flight-elsewhere", `another process is resolving ${key} generation ${g}`);
    }
    return yield* present(account, profile, current, doubt.nextAttempt, options, true);
  });

  // Refresh tokens that do not rotate: presenting one again is harmless.
  if (profile.rotation === "none") {
    yield* claims.release(account, g, claim.attempt, "provider does not rotate refresh tokens").pipe(Effect.ignore);
    if (doubt.presented > 1) {
      return yield* retryable(
        account,
        "server-error",
        `refreshing ${key} failed twice without an answer; its refresh token does not rotate and stays valid, try again later`,
      );
    }
    return yield* retry;
  }

  // 2. A known loss.
  if (claim.rotated) {
    return yield* revokeInDoubt(account, claim, "the provider had answered but storing the answer failed");
  }

  // 3. Introspection, once the presentation has had time to settle at the server.
  const endpoint = yield* TokenEndpoint;
  let outcome: IntrospectionOutcome = "unavailable";
  if (profile.introspection && current.refreshToken !== undefined) {
    const settleUntil = claim.claimant.at + settings.introspectAfterMs;
    const wait = Math.min(settleUntil - (yield* Clock.currentTimeMillis), settings.introspectAfterMs);
    if (wait > 0) yield* Effect.sleep(wait);
    outcome = yield* endpoint.introspect({
      account,
      issuer: current.issuer,
      clientId: current.clientId,
      refreshToken: current.refreshToken,
      scope: current.scope,
    });
  }
  if (outcome === "active") {
    yield* record(account, {
      type: "refresh.resolved",
      generation: g,
      attempt: claim.attempt,
      outcome: "not-rotated",
      via: "introspection",
    });
    yield* claims.release(account, g, claim.attempt, "introspection: not rotated").pipe(Effect.ignore);
    yield* Effect.logWarning(`${key}: generation ${g} was never rotated (introspection); presenting it once more`);
    if (doubt.presented > 1) {
      return yield* retryable(
        account,
        "server-error",
        `refreshing ${key} failed twice without an answer; the refresh token is still valid (introspection), try again later`,
      );
    }
    return yield* retry;
  }
  if (outcome === "inactive") {
    yield* record(account, {
      type: "refresh.resolved",
      generation: g,
      attempt: claim.attempt,
      outcome: "rotated",
      via: "introspection",
    });
    return yield* revokeInDoubt(account, claim, "the provider says that refresh token is no longer active");
  }

  // 4. The provider's grace window, if it declares one.
  const now = yield* Clock.currentTimeMillis;
  const graceMs = profile.graceWindowSeconds * 1000;
  if (graceMs > 0 && doubt.presented === 1 && now - claim.claimant.at <= graceMs) return yield* retry;
  return yield* revokeInDoubt(
    account,
    claim,
    graceMs > 0 ? "its grace window allows no further retry" : "the provider allows no retry",
  );
});
