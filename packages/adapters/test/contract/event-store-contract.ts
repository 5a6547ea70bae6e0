/**
 * The contract every EventStore adapter must meet (I7 as the protocol sees it), as a reusable vitest suite: appends
 * numbered after the last stored event and returned as stored, reads whole and in order, streams independent per
 * account, concurrent appends in one process never losing or repeating a number, `fold` equal to the fold of the whole
 * stream whoever asks (also past the point where a store keeps a checkpoint, and after further appends), `accounts`
 * listing every stream, and diagnostic notes that round-trip.
 */
import { randomBytes } from "node:crypto";
import {
  type AccountRef,
  DEFAULT_THRESHOLD_MS,
  type DiagnosticNote,
  EventStore,
  type EventStoreShape,
  type NewAccountEvent,
  resumeFold,
  stateName,
} from "@baton/core";
import { Effect, type Layer } from "effect";
import { describe, expect, it } from "vitest";

export interface EventStoreHarness {
  readonly layer: Layer.Layer<EventStore>;
  readonly cleanup: () => Promise<void>;
}

const freshAccount = (provider = "contract"): AccountRef => ({
  provider,
  account: `e-${randomBytes(4).toString("hex")}`,
});

const envelope = { v: 1, host: "contract-host", pid: 4242 } as const;

/** A login (generation 1), then `rotations` claim + store pairs, as the protocol writes them. */
export const history = (rotations: number, at = 1_700_000_000_000): ReadonlyArray<NewAccountEvent> => [
  {
    ...envelope,
    at,
    type: "credentials.stored",
    generation: 1,
    source: "login",
    accessFp: "a0000001",
    refreshFp: "b0000001",
    expiresAt: at + 3_600_000,
  },
  ...Array.from({ length: rotations }, (_, i): ReadonlyArray<NewAccountEvent> => {
    const generation = i + 1;
    const when = at + (i + 1) * 3_600_000;
    return [
      {
        ...envelope,
        at: when,
        type: "refresh.claimed",
        generation,
        attempt: 1,
        refreshFp: `b${String(generation).padStart(7, "0")}`,
      },
      {
        ...envelope,
        at: when + 100,
        type: "credentials.stored",
        generation: generation + 1,
        source: "refresh",
        accessFp: `a${String(generation + 1).padStart(7, "0")}`,
        refreshFp: `b${String(generation + 1).padStart(7, "0")}`,
        expiresAt: when + 3_600_000,
      },
    ];
  }).flat(),
];

export const eventStoreContract = (name: string, makeHarness: () => Promise<EventStoreHarness>): void => {
  const withStore = (body: (store: EventStoreShape) => Effect.Effect<void, unknown>) => async () => {
    const made = await makeHarness();
    try {
      await Effect.runPromise(Effect.provide(EventStore.use(body), made.layer));
    } finally {
      await made.cleanup();
    }
  };

  describe(`${name} (EventStore contract)`, () => {
    it(
      "append - should number events after the last one, return them as stored, and read them back in order",
      withStore((store) =>
        Effect.gen(function* () {
          const account = freshAccount();
          const [login, ...rotation] = history(1);
          const first = yield* store.append(account, login === undefined ? [] : [login]);
          const next = yield* store.append(account, rotation);
          expect(first.map((e) => e.seq)).toEqual([1]);
          expect(next.map((e) => [e.seq, e.type])).toEqual([
            [2, "refresh.claimed"],
            [3, "credentials.stored"],
          ]);
          expect(yield* store.read(account)).toEqual([...first, ...next]);
          expect(yield* store.append(account, [])).toEqual([]);
          expect(yield* store.read(freshAccount())).toEqual([]);
        }),
      ),
    );

    it(
      "append - should keep every one of 12 concurrent appends, numbered 1 to 12 without repeats",
      withStore((store) =>
        Effect.gen(function* () {
          const account = freshAccount();
          const event = history(0)[0];
          if (event === undefined) throw new Error("no event");
          yield* Effect.all(
            Array.from({ length: 12 }, () => store.append(account, [event])),
            { concurrency: "unbounded" },
          );
          expect((yield* store.read(account)).map((e) => e.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
        }),
      ),
    );

    it(
      "fold - should equal the fold of the whole stream, for a refresh and a read, before and after many appends",
      withStore((store) =>
        Effect.gen(function* () {
          const account = freshAccount();
          const all = history(20);
          yield* store.append(account, all.slice(0, 5));
          const full = () =>
            Effect.map(store.read(account), (events) => resumeFold(undefined, events, DEFAULT_THRESHOLD_MS));
          const early = yield* store.fold(account, DEFAULT_THRESHOLD_MS, "refresh");
          expect(early).toEqual(yield* full());
          yield* store.append(account, all.slice(5, 30));
          const asRefresh = yield* store.fold(account, DEFAULT_THRESHOLD_MS, "refresh");
          expect(asRefresh).toEqual(yield* full());
          yield* store.append(account, all.slice(30));
          const asRead = yield* store.fold(account, DEFAULT_THRESHOLD_MS, "read");
          const whole = yield* full();
          expect(asRead).toEqual(whole);
          expect(asRead.events).toBe(all.length);
          expect(asRead.snapshot.context.generation).toBe(21);
          expect(stateName(asRead.snapshot)).not.toBe("unauthenticated");
          expect(yield* store.fold(freshAccount(), DEFAULT_THRESHOLD_MS, "read")).toMatchObject({ events: 0 });
        }),
      ),
    );

    it(
      "accounts - should list every account with a stream",
      withStore((store) =>
        Effect.gen(function* () {
          const a = freshAccount("alpha");
          const b = freshAccount("beta");
          yield* store.append(a, history(0));
          yield* store.append(b, history(0));
          expect(yield* store.accounts()).toEqual(expect.arrayContaining([a, b]));
        }),
      ),
    );

    it(
      "note - should round-trip diagnostic notes per account, oldest first",
      withStore((store) =>
        Effect.gen(function* () {
          const account = freshAccount();
          const note = (startedAt: number): DiagnosticNote => ({
            v: 1,
            kind: "flight",
            host: "contract-host",
            pid: 4242,
            startedAt,
            endedAt: startedAt + 5,
            outcome: "adopted",
            generation: 3,
          });
          yield* store.append(account, history(0));
          yield* store.note(account, note(1));
          yield* store.note(account, note(2));
          expect(yield* store.notes(account)).toEqual([note(1), note(2)]);
          expect(yield* store.notes(freshAccount())).toEqual([]);
        }),
      ),
    );
  });
};
