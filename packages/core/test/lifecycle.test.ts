/**
 * The lifecycle machine's transition table and the replay fold: determinism (the fold of any prefix equals the
 * state reached incrementally), time as data (a clock tick moves valid → expiring → expired), and the events' codec
 * round-trip.
 */

import { Exit } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AccountEvent as AccountEventType,
  decodeAccountEvent,
  encodeAccountEvent,
  initialSnapshot,
  replay,
  stateName,
  step,
} from "../src/index.ts";
import { anyEvent } from "./support/event-arbitrary.ts";

const base = { v: 1 as const, host: "h", pid: 1 };
const stored = (seq: number, at: number, generation: number, lifetimeMs = 3_600_000): AccountEventType => ({
  ...base,
  seq,
  at,
  type: "credentials.stored",
  generation,
  source: generation === 1 ? "login" : "refresh",
  accessFp: "0123abcd",
  expiresAt: at + lifetimeMs,
});

describe("lifecycle machine", () => {
  it("replay - should start unauthenticated", () => {
    expect(stateName(initialSnapshot())).toBe("unauthenticated");
  });

  it("replay - should be valid after a login and expiring, then expired, as time passes", () => {
    const events = [stored(1, 0, 1)];
    expect(stateName(replay(events, { now: 1000 }))).toBe("valid");
    expect(stateName(replay(events, { now: 3_600_000 - 60_000 }))).toBe("expiring");
    expect(stateName(replay(events, { now: 3_600_000 }))).toBe("expired");
  });

  it("replay - should adapt the threshold to short lifetimes (a 30 s token is not expiring at once)", () => {
    const events = [stored(1, 0, 1, 30_000)];
    expect(stateName(replay(events, { now: 10_000 }))).toBe("valid");
    expect(stateName(replay(events, { now: 23_000 }))).toBe("expiring");
  });

  const table: Array<[string, Array<AccountEventType>, string]> = [
    [
      "claimed → refreshing",
      [stored(1, 0, 1), { ...base, seq: 2, at: 5, type: "refresh.claimed", generation: 1, attempt: 1 }],
      "refreshing",
    ],
    [
      "refreshing + stored g+1 → valid",
      [
        stored(1, 0, 1),
        { ...base, seq: 2, at: 5, type: "refresh.claimed", generation: 1, attempt: 1 },
        stored(3, 6, 2),
      ],
      "valid",
    ],
    [
      "refreshing + failed → back to active",
      [
        stored(1, 0, 1),
        { ...base, seq: 2, at: 5, type: "refresh.claimed", generation: 1, attempt: 1 },
        { ...base, seq: 3, at: 6, type: "refresh.failed", generation: 1, reason: "server_error" },
      ],
      "valid",
    ],
    [
      "refreshing + rejected → revoked",
      [
        stored(1, 0, 1),
        { ...base, seq: 2, at: 5, type: "refresh.claimed", generation: 1, attempt: 1 },
        { ...base, seq: 3, at: 6, type: "refresh.rejected", generation: 1, error: "invalid_grant" },
      ],
      "revoked",
    ],
    [
      "in doubt",
      [
        stored(1, 0, 1),
        {
          ...base,
          seq: 2,
          at: 5,
          type: "refresh.in-doubt",
          generation: 1,
          attempt: 1,
          claimant: { host: "h", pid: 2, at: 4 },
        },
      ],
      "inDoubt",
    ],
    [
      "in doubt + revoked",
      [
        stored(1, 0, 1),
        {
          ...base,
          seq: 2,
          at: 5,
          type: "refresh.in-doubt",
          generation: 1,
          attempt: 1,
          claimant: { host: "h", pid: 2, at: 4 },
        },
        { ...base, seq: 3, at: 6, type: "account.revoked", generation: 1, reason: "in-doubt" },
      ],
      "revoked",
    ],
    [
      "revoked + new login → valid",
      [
        stored(1, 0, 1),
        { ...base, seq: 2, at: 6, type: "account.revoked", generation: 1, reason: "invalid_grant" },
        stored(3, 7, 2),
      ],
      "valid",
    ],
    [
      "logged out → unauthenticated",
      [stored(1, 0, 1), { ...base, seq: 2, at: 6, type: "account.logged-out", generation: 1, remoteRevoked: true }],
      "unauthenticated",
    ],
    ["an older generation is ignored (I2)", [stored(1, 0, 2), stored(2, 1, 1, 1)], "valid"],
  ];
  for (const [name, events, expected] of table) {
    it(`transition - should go ${name}`, () => {
      expect(stateName(replay(events, { now: 10 }))).toBe(expected);
    });
  }

  it("replay - should keep the last good generation's fingerprint when revoked (I4)", () => {
    const snapshot = replay([
      stored(1, 0, 1),
      { ...base, seq: 2, at: 6, type: "account.revoked", generation: 1, reason: "invalid_grant" },
    ]);
    expect(snapshot.context.accessFp).toBe("0123abcd");
    expect(snapshot.context.generation).toBe(1);
  });
});

describe("event codec and replay determinism", () => {
  it("codec - should round-trip every event", () => {
    fc.assert(
      fc.property(anyEvent, (event) => {
        const decoded = decodeAccountEvent(JSON.parse(JSON.stringify(encodeAccountEvent(event))));
        expect(Exit.isSuccess(decoded)).toBe(true);
        if (Exit.isSuccess(decoded)) expect(decoded.value).toEqual(event);
      }),
      { numRuns: 300 },
    );
  });

  it("replay - should equal the incremental state for every prefix", () => {
    fc.assert(
      fc.property(fc.array(anyEvent, { maxLength: 40 }), (stream) => {
        let incremental = initialSnapshot();
        for (let i = 0; i < stream.length; i++) {
          incremental = step(incremental, stream[i] as AccountEventType);
          const folded = replay(stream.slice(0, i + 1));
          expect(stateName(folded)).toBe(stateName(incremental));
          expect(folded.context).toEqual(incremental.context);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("codec - should reject an unknown schema version", () => {
    const event = { ...stored(1, 0, 1), v: 2 };
    expect(Exit.isFailure(decodeAccountEvent(event))).toBe(true);
  });
});
