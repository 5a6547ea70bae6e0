/**
 * Reading an account's history for `replay` and the demo: its timeline — events, the anomalies a careful reader
 * looks for, the summary counts, the state `status` would show and the access tokens a broker lent out — and, for the
 * pictures, its diagnostic notes (what each process did in each refresh flight).
 */
import { type AccountRef, accountKey, DEFAULT_THRESHOLD_MS, EventStore, replay, stateName } from "@baton/core";
import { Clock, Effect } from "effect";
import { findAnomalies, summarize } from "../timeline.ts";
import { handOutsOf } from "./hand-out-lines.ts";
import { buildPicture } from "./picture.ts";

export const accountTimeline = (account: AccountRef) =>
  Effect.gen(function* () {
    const events = yield* (yield* EventStore).read(account);
    // Evaluated now, with the threshold `status` uses, so the header and `status` name the same state.
    const now = yield* Clock.currentTimeMillis;
    return {
      account: accountKey(account),
      state: stateName(replay(events, { now, thresholdMs: DEFAULT_THRESHOLD_MS })),
      summary: summarize(events),
      anomalies: findAnomalies(events),
      events,
      handOuts: yield* handOutsOf(account),
    };
  });

export const accountPicture = (account: AccountRef) =>
  Effect.gen(function* () {
    const timeline = yield* accountTimeline(account);
    const notes = yield* EventStore.use((events) => events.notes(account));
    return buildPicture({ ...timeline, notes });
  });
