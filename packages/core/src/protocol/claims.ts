/**
 * Deciding which claim attempt may be presented for generation *g*, from the claim records (I1, I9). Pure apart from
 * the liveness probe: a claim that was never marked presenting and whose claimant is dead was never sent, so a new
 * attempt is safe; a presenting claim whose claimant is alive is still in flight; a presenting claim whose claimant is
 * dead (or, on another host, older than the in-flight bound) is in doubt.
 */
import { Effect } from "effect";
import type { ClaimRecord } from "../ports/claim-store.ts";
import { HostIdentity } from "../ports/host.ts";

export type ClaimDecision =
  | { readonly kind: "present"; readonly attempt: number }
  | { readonly kind: "in-flight"; readonly claim: ClaimRecord }
  | {
      readonly kind: "in-doubt";
      readonly claim: ClaimRecord;
      readonly attempt: number;
      /** How many claims on this generation were presented without being released (1: no retry yet). */
      readonly presented: number;
    };

export const decideClaim = (
  claims: ReadonlyArray<ClaimRecord>,
  now: number,
  remoteInFlightMs: number,
): Effect.Effect<ClaimDecision, never, HostIdentity> =>
  Effect.gen(function* () {
    const host = yield* HostIdentity;
    const sorted = [...claims].sort((a, b) => a.attempt - b.attempt);
    const nextAttempt = (sorted.at(-1)?.attempt ?? 0) + 1;
    let doubt: ClaimRecord | undefined;
    let presented = 0;
    for (const claim of sorted) {
      if (claim.released !== undefined) continue;
      const isSelf = claim.claimant.host === host.host && claim.claimant.pid === host.pid;
      const liveness = isSelf ? "dead" : yield* host.isAlive(claim.claimant.host, claim.claimant.pid);
      const alive =
        liveness === "alive" || (liveness === "unknown" && now - claim.claimant.at < remoteInFlightMs && !isSelf);
      if (alive) return { kind: "in-flight", claim };
      if (claim.presenting) {
        doubt = claim;
        presented += 1;
      }
    }
    if (doubt !== undefined) return { kind: "in-doubt", claim: doubt, attempt: nextAttempt, presented };
    return { kind: "present", attempt: nextAttempt };
  });
