/**
 * The replay timeline: each event as one readable line (who — host and pid — did what, when, with fingerprints),
 * and the anomalies a careful reader looks for: a generation claimed twice, one refresh token presented (or stored)
 * twice, in-doubt claims, a refresh stored without a claim, a generation jump a refresh cannot explain, time going
 * backwards between records, long lock waits, and gaps or repeats in sequence numbers.
 */
import type { AccountEvent } from "@baton/core";
import { absoluteTime } from "./format.ts";

export interface Anomaly {
  readonly seq: number;
  readonly kind:
    | "double-presentation"
    | "refresh-reuse"
    | "generation-jump"
    | "time-backwards"
    | "in-doubt"
    | "write-without-claim"
    | "lock-wait"
    | "sequence-gap"
    | "sequence-repeat"
    | "log-repair";
  readonly detail: string;
}

export const describeEvent = (event: AccountEvent): string => {
  switch (event.type) {
    case "credentials.stored":
      return `stored generation ${event.generation} (${event.source}) access ${event.accessFp}${event.refreshFp ? ` refresh ${event.refreshFp}` : ""}, expires ${absoluteTime(event.expiresAt)}`;
    case "refresh.claimed":
      return `claimed generation ${event.generation} (attempt ${event.attempt})`;
    case "refresh.failed":
      return `refresh of generation ${event.generation} failed: ${event.reason}${event.retryAfterMs ? ` (retry after ${event.retryAfterMs} ms)` : ""}`;
    case "refresh.rejected":
      return `provider rejected generation ${event.generation}: ${event.error}`;
    case "refresh.in-doubt":
      return `generation ${event.generation} attempt ${event.attempt} IN DOUBT (sent by pid ${event.claimant.pid} on ${event.claimant.host} at ${absoluteTime(event.claimant.at)}, no answer stored)`;
    case "refresh.resolved":
      return event.outcome === "not-rotated"
        ? `generation ${event.generation} attempt ${event.attempt} resolved: never rotated (${event.via}); it may be presented once more`
        : `generation ${event.generation} attempt ${event.attempt} resolved: rotated, the answer is lost (${event.via})`;
    case "account.exported":
      return event.moved
        ? `exported generation ${event.generation} and removed it here (moved)`
        : `exported generation ${event.generation} (the copy shares this login's token family)`;
    case "account.revoked":
      return `account revoked (${event.reason}) at generation ${event.generation}; login needed`;
    case "account.logged-out":
      return `logged out at generation ${event.generation}${event.remoteRevoked ? " (revoked at the provider)" : ""}`;
    case "lock.waited":
      return `waited ${Math.round(event.waitedMs)} ms for the lock`;
    case "log.repaired":
      return `log repaired (${event.reason}, ${event.droppedBytes} bytes dropped${event.quarantinedTo ? `, copy in ${event.quarantinedTo}` : ""})`;
  }
};

/** Records of one stream may come from processes whose clocks differ slightly; beyond this, time went backwards. */
const BACKWARDS_TOLERANCE_MS = 1_000;

export const findAnomalies = (events: ReadonlyArray<AccountEvent>, lockWaitWarnMs = 5_000): Array<Anomaly> => {
  const anomalies: Array<Anomaly> = [];
  const claims = new Map<string, number>();
  const claimedGenerations = new Set<number>();
  /** Refresh-token fingerprint → where it was first presented or stored. */
  const refreshTokens = new Map<string, { readonly generation: number; readonly attempt: number | undefined }>();
  let previousSeq = 0;
  let previousAt: number | undefined;
  let storedGeneration = 0;
  for (const event of events) {
    if (previousAt !== undefined && event.at < previousAt - BACKWARDS_TOLERANCE_MS) {
      anomalies.push({
        seq: event.seq,
        kind: "time-backwards",
        detail: `recorded ${Math.round((previousAt - event.at) / 1000)} s before the record above it (a clock jumped or processes disagree)`,
      });
    }
    previousAt = Math.max(previousAt ?? event.at, event.at);
    if (event.seq === previousSeq)
      anomalies.push({ seq: event.seq, kind: "sequence-repeat", detail: `sequence ${event.seq} appears twice` });
    else if (event.seq !== previousSeq + 1)
      anomalies.push({
        seq: event.seq,
        kind: "sequence-gap",
        detail: `sequence jumps from ${previousSeq} to ${event.seq}`,
      });
    previousSeq = event.seq;
    switch (event.type) {
      case "refresh.claimed": {
        const key = `${event.generation}/${event.attempt}`;
        claims.set(key, (claims.get(key) ?? 0) + 1);
        claimedGenerations.add(event.generation);
        if ((claims.get(key) ?? 0) > 1) {
          anomalies.push({
            seq: event.seq,
            kind: "double-presentation",
            detail: `generation ${event.generation} claimed twice`,
          });
        }
        if (event.refreshFp !== undefined) {
          // Within one generation a later attempt presents the same token legitimately (the earlier one was never
          // sent, was refused before processing, or is the one retry of an in-doubt attempt): only another
          // generation presenting it is a reuse.
          const first = refreshTokens.get(event.refreshFp);
          if (first !== undefined && first.generation !== event.generation) {
            anomalies.push({
              seq: event.seq,
              kind: "refresh-reuse",
              detail:
                first.attempt === undefined
                  ? `refresh token ${event.refreshFp} was stored as generation ${first.generation} and is presented as generation ${event.generation}`
                  : `refresh token ${event.refreshFp} of generation ${first.generation} presented again as generation ${event.generation}`,
            });
          }
          refreshTokens.set(event.refreshFp, { generation: event.generation, attempt: event.attempt });
        }
        break;
      }
      case "refresh.in-doubt":
        anomalies.push({ seq: event.seq, kind: "in-doubt", detail: `generation ${event.generation} in doubt` });
        break;
      case "credentials.stored":
        if (event.source === "refresh" && !claimedGenerations.has(event.generation - 1)) {
          anomalies.push({
            seq: event.seq,
            kind: "write-without-claim",
            detail: `generation ${event.generation} stored without a claim on ${event.generation - 1}`,
          });
        }
        if (event.source === "refresh" && storedGeneration > 0 && event.generation !== storedGeneration + 1) {
          anomalies.push({
            seq: event.seq,
            kind: "generation-jump",
            detail: `a refresh stored generation ${event.generation} after generation ${storedGeneration}`,
          });
        }
        if (event.refreshFp !== undefined) {
          const first = refreshTokens.get(event.refreshFp);
          if (
            first !== undefined &&
            first.generation !== event.generation &&
            first.generation !== event.generation - 1
          ) {
            anomalies.push({
              seq: event.seq,
              kind: "refresh-reuse",
              detail: `generation ${event.generation} (${event.source}) stores refresh token ${event.refreshFp} of generation ${first.generation} again`,
            });
          }
          // A server that does not rotate answers without a refresh token: the next generation carries the same one.
          if (first === undefined || first.generation === event.generation - 1) {
            refreshTokens.set(event.refreshFp, { generation: event.generation, attempt: undefined });
          }
        }
        storedGeneration = Math.max(storedGeneration, event.generation);
        break;
      case "lock.waited":
        if (event.waitedMs >= lockWaitWarnMs)
          anomalies.push({ seq: event.seq, kind: "lock-wait", detail: `waited ${Math.round(event.waitedMs)} ms` });
        break;
      case "log.repaired":
        anomalies.push({ seq: event.seq, kind: "log-repair", detail: event.reason });
        break;
      default:
        break;
    }
  }
  return anomalies;
};

/** Summary counts for the demo and `replay`: refreshes (rotations) per generation and problems. */
export const summarize = (events: ReadonlyArray<AccountEvent>) => {
  const refreshes = events.filter((e) => e.type === "credentials.stored" && e.source === "refresh").length;
  const claimsCount = events.filter((e) => e.type === "refresh.claimed").length;
  const revoked = events.filter((e) => e.type === "account.revoked").length;
  const inDoubt = events.filter((e) => e.type === "refresh.in-doubt").length;
  const lockWaits = events.filter((e) => e.type === "lock.waited").length;
  return { events: events.length, refreshes, claims: claimsCount, revoked, inDoubt, lockWaits };
};
