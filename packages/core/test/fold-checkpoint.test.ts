/**
 * Fold checkpoints: a fold persisted as JSON and restored, then resumed over the rest of the stream, equals the full
 * replay at every split point; anything that is not a checkpoint of this machine with this threshold is refused.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AccountEvent,
  DEFAULT_THRESHOLD_MS,
  foldFormat,
  persistFold,
  replay,
  restoreFold,
  resumeFold,
  stateName,
} from "../src/index.ts";
import { anyEvent } from "./support/event-arbitrary.ts";

/** A checkpoint as a store keeps it: through JSON. */
const throughJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

const stored: AccountEvent = {
  v: 1,
  seq: 1,
  at: 1000,
  host: "h",
  pid: 1,
  type: "credentials.stored",
  generation: 1,
  source: "login",
  accessFp: "0123abcd",
  expiresAt: 3_601_000,
};

describe("fold checkpoints", () => {
  it("resumeFold - should equal the full replay when resumed from a persisted prefix, at every split", () => {
    fc.assert(
      fc.property(
        fc.array(anyEvent, { maxLength: 40 }),
        fc.nat(),
        fc.constantFrom(DEFAULT_THRESHOLD_MS, 30_000),
        (stream, cut, thresholdMs) => {
          const split = stream.length === 0 ? 0 : cut % (stream.length + 1);
          const prefix = resumeFold(undefined, stream.slice(0, split), thresholdMs);
          const restored = restoreFold(throughJson(persistFold(prefix)), thresholdMs);
          expect(restored).toBeDefined();
          if (restored === undefined) return;
          const resumed = resumeFold(restored, stream.slice(split), thresholdMs);
          const full = replay(stream, { thresholdMs });
          expect(resumed.events).toBe(stream.length);
          expect(stateName(resumed.snapshot)).toBe(stateName(full));
          expect(resumed.snapshot.value).toEqual(full.value);
          expect(resumed.snapshot.context).toEqual(full.context);
          // Evaluated "now" as status does: the same answer.
          const now = (stream.at(-1)?.at ?? 0) + 1_000_000;
          expect(stateName(replay([], { from: resumed.snapshot, now }))).toBe(
            stateName(replay(stream, { now, thresholdMs })),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("restoreFold - should refuse a checkpoint folded with another threshold", () => {
    const persisted = throughJson(persistFold(resumeFold(undefined, [stored], DEFAULT_THRESHOLD_MS)));
    expect(restoreFold(persisted, DEFAULT_THRESHOLD_MS)).toBeDefined();
    expect(restoreFold(persisted, 30_000)).toBeUndefined();
  });

  it("restoreFold - should refuse a checkpoint written for another machine definition", () => {
    const persisted = persistFold(resumeFold(undefined, [stored], DEFAULT_THRESHOLD_MS));
    expect(persisted.format).toBe(foldFormat());
    expect(restoreFold({ ...persisted, format: "0.00000000" }, DEFAULT_THRESHOLD_MS)).toBeUndefined();
  });

  it("restoreFold - should refuse malformed checkpoints instead of throwing", () => {
    const good = throughJson(persistFold(resumeFold(undefined, [stored], DEFAULT_THRESHOLD_MS))) as Record<
      string,
      unknown
    >;
    const context = good.context as Record<string, unknown>;
    const malformed: Array<unknown> = [
      null,
      42,
      "text",
      [],
      { ...good, events: -1 },
      { ...good, events: 1.5 },
      { ...good, value: "noSuchState" },
      { ...good, value: { active: "noSuchState" } },
      { ...good, value: 7 },
      { ...good, value: { active: "hub" } },
      { ...good, value: "active" },
      { ...good, context: null },
      { ...good, context: { ...context, generation: "1" } },
      { ...good, context: { ...context, lastError: { reason: 1, at: 2 } } },
      { ...good, context: { ...context, thresholdMs: 1 } },
    ];
    for (const candidate of malformed) expect(restoreFold(candidate, DEFAULT_THRESHOLD_MS)).toBeUndefined();
  });
});
