/**
 * Judging the claims already made on generation *g* (I1, I9) — pure, given each claimant's liveness as the claim
 * store sees it. Every claim store's `acquire` runs this judgement, so the rules are written once:
 *
 * - a released claim (definitely not processed) is history;
 * - a claim whose claimant is alive is in flight, presented or not — wait for it;
 * - a claimant whose liveness the store cannot tell (another machine, no shared liveness signal) counts as alive
 *   until `remoteInFlightMs` after its claim, then as gone — the only place a clock bound stands in for liveness;
 * - a gone claimant that never marked its claim presenting never sent anything: the next attempt is free;
 * - a gone claimant that marked it presenting may have been answered: in doubt.
 */

import type { ClaimRecord } from "../ports/claim-store.ts";
import type { Liveness } from "../ports/host.ts";

export type ClaimJudgement =
  | { readonly kind: "free"; readonly nextAttempt: number }
  | { readonly kind: "in-flight"; readonly claim: ClaimRecord }
  | {
      readonly kind: "in-doubt";
      readonly claim: ClaimRecord;
      readonly presented: number;
      readonly nextAttempt: number;
    };

export interface JudgedClaim {
  readonly record: ClaimRecord;
  readonly liveness: Liveness;
}

export const judgeClaims = (
  claims: ReadonlyArray<JudgedClaim>,
  now: number,
  remoteInFlightMs: number,
): ClaimJudgement => {
  const sorted = [...claims].sort((a, b) => a.record.attempt - b.record.attempt);
  const nextAttempt = (sorted.at(-1)?.record.attempt ?? 0) + 1;
  let doubt: ClaimRecord | undefined;
  let presented = 0;
  for (const { record, liveness } of sorted) {
    if (record.released !== undefined) continue;
    const alive = liveness === "alive" || (liveness === "unknown" && now - record.claimant.at < remoteInFlightMs);
    if (alive) return { kind: "in-flight", claim: record };
    if (record.presenting) {
      doubt = record;
      presented += 1;
    }
  }
  if (doubt !== undefined) return { kind: "in-doubt", claim: doubt, presented, nextAttempt };
  return { kind: "free", nextAttempt };
};
