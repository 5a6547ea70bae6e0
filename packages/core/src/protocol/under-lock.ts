/**
 * Step 5 of the refresh protocol, holding the account lock: re-read the store (a sibling may have stored a newer
 * generation while this process waited), then decide whether this process may present the stored refresh token:
 *
 * - never to an issuer or client other than the ones the credentials were issued by (I10): a provider re-registered
 *   with another issuer, or a record edited to name another one, needs a login — nothing is sent;
 * - never while the provider asked to wait (`Retry-After`, recorded by whichever process was told) or while the
 *   jittered backoff after refused attempts runs — every process sharing the store honours it (SPEC §3 step 7);
 * - only with the exclusive claim on the generation (I1), which the claim store grants when no other claim is in
 *   flight or in doubt; an in-doubt claim goes to in-doubt.ts (I9).
 */
import { Clock, Effect, Random } from "effect";
import { type AccountRef, accountKey } from "../account.ts";
import type { Credentials } from "../credentials.ts";
import { LoginRequired } from "../errors.ts";
import { fingerprint } from "../fingerprint.ts";
import { backoffDelay, freshness } from "../policy.ts";
import { ClaimStore } from "../ports/claim-store.ts";
import { HostIdentity } from "../ports/host.ts";
import { ProviderDirectory } from "../ports/providers.ts";
import { replay, stateName } from "../replay.ts";
import { noCredentials, type RefreshOptions, usable } from "./flight.ts";
import { resolveInDoubt } from "./in-doubt.ts";
import { foldEvents, readSecrets, record, retryable } from "./journal.ts";
import { present } from "./present.ts";
import { ProtocolHooks, RefreshSettings } from "./settings.ts";

/** Backoff after refused attempts: full jitter from 1 s, doubling, capped at 5 minutes. */
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_CAP_MS = 5 * 60_000;

export const underLock = Effect.fnUntraced(function* (
  account: AccountRef,
  options: RefreshOptions,
  before: Credentials,
) {
  const settings = yield* RefreshSettings;
  const hooks = yield* ProtocolHooks;
  const host = yield* HostIdentity;
  const claims = yield* ClaimStore;
  const key = accountKey(account);
  const trace = options.trace;
  yield* hooks.at("locked", account);

  const now = yield* Clock.currentTimeMillis;
  const current = yield* readSecrets(account);
  if (current === undefined) return yield* noCredentials(account);
  const adopt = (credentials: Credentials) => {
    if (trace !== undefined) trace.outcome = "adopted";
    return credentials;
  };
  if (current.generation > before.generation && usable(current, now, settings.thresholdMs)) return adopt(current);
  if (!options.force && usable(current, now, settings.thresholdMs)) return adopt(current);
  if (options.force && current.generation > (options.known?.generation ?? before.generation)) return adopt(current);
  // Only the process about to present needs the provider's profile: followers that adopt never read the registry.
  const profile = yield* ProviderDirectory.use((providers) => providers.get(account.provider));

  const folded = yield* foldEvents(account, settings.thresholdMs);
  const snapshot = replay([], { from: folded.snapshot, now });
  const context = snapshot.context;
  if (stateName(snapshot) === "revoked" && context.generation >= current.generation) {
    return yield* new LoginRequired({
      account: key,
      reason: context.revokedReason === "in-doubt" ? "in-doubt" : "revoked",
      message: `${key} was revoked (${context.revokedReason ?? "invalid_grant"}); run \`baton login ${key}\``,
    });
  }
  if (current.refreshToken === undefined) {
    return yield* new LoginRequired({
      account: key,
      reason: "no-refresh-token",
      message: `${key} has no refresh token; run \`baton login ${key}\``,
    });
  }
  if (current.issuer !== profile.issuer || current.clientId !== profile.clientId) {
    yield* record(account, { type: "refresh.failed", generation: current.generation, reason: "issuer-changed" });
    return yield* new LoginRequired({
      account: key,
      reason: "issuer-changed",
      message:
        `the credentials of ${key} were issued by ${current.issuer} to client ${current.clientId}, but provider ` +
        `${profile.name} is now ${profile.issuer} / ${profile.clientId}; nothing was sent (a refresh token goes only ` +
        `to its issuer); run \`baton login ${key}\``,
    });
  }

  // The provider's Retry-After and our own backoff, shared by every process through the recorded failures.
  const jitter = yield* Random.next;
  const backoffUntil = Math.max(
    context.retryAt ?? 0,
    context.failures > 0 && context.lastError !== undefined
      ? context.lastError.at + backoffDelay(context.failures, jitter, undefined, BACKOFF_BASE_MS, BACKOFF_CAP_MS)
      : 0,
  );
  if (now < backoffUntil) {
    const waitMs = backoffUntil - now;
    if (!options.force && freshness(current, now, settings.thresholdMs) !== "expired") {
      if (trace !== undefined) trace.outcome = "served";
      return current;
    }
    return yield* retryable(
      account,
      context.retryAt !== undefined && context.retryAt > now ? "rate-limited" : "backing-off",
      `the last ${context.failures === 1 ? "refresh" : `${context.failures} refreshes`} of ${key} failed ` +
        `(${context.lastError?.reason ?? "unknown"}); the next attempt is allowed in ${Math.ceil(waitMs / 1000)} s`,
      waitMs,
    );
  }

  const g = current.generation;
  const request = {
    claimant: { host: host.host, pid: host.pid, at: now },
    refreshFp: fingerprint(current.refreshToken),
  };
  const acquisition = yield* claims
    .acquire(account, g, request)
    .pipe(Effect.mapError((failure) => retryable(account, "store-unavailable", failure.message)));
  switch (acquisition._tag) {
    case "InFlight":
      return yield* retryable(
        account,
        "in-flight-elsewhere",
        `process ${acquisition.claim.claimant.pid} on ${acquisition.claim.claimant.host} is refreshing ${key}; try again`,
      );
    case "InDoubt":
      return yield* resolveInDoubt(account, profile, current, acquisition, context.inDoubt, options, present);
    case "Granted":
      return yield* present(account, profile, current, acquisition.attempt, options, false);
  }
});
