/**
 * The contract every ClaimStore adapter must meet (I1, I9), as a reusable vitest suite: `acquire` grants the next
 * attempt only when no claim on the generation is in flight or in doubt, judging each claimant's liveness the store's
 * own way — a claim of this process is alive exactly while the scope that acquired it is open (also for another store
 * instance in the same process), a claim of another process stays in flight while that process lives and is judged
 * by what it left once it died (within the store's bound), and a claimant on another machine counts as alive either
 * for `remoteInFlightMs` after its claim (stores that cannot see other machines) or exactly while the shared store
 * sees it (a database), however old its claim — and exactly one of many concurrent claimants wins. Plus the markers
 * (presenting, rotated, released), the exclusive `retry`, `highest` and `prune`.
 *
 * A harness gives this process's store, a second store instance in the same process, and claims made by other live
 * processes — on this machine or another — that a test can end.
 */
import { randomBytes } from "node:crypto";
import {
  type AccountRef,
  type Acquisition,
  type ClaimRequest,
  ClaimStore,
  type ClaimStoreShape,
  RefreshSettings,
} from "@baton/core";
import { Effect, type Layer, type Scope } from "effect";
import { describe, expect, it } from "vitest";

/** A claim held by another live process, until `kill` ends that process (a crash: nothing is given up on purpose). */
export interface ClaimElsewhere {
  readonly pid: number;
  readonly kill: () => Promise<void>;
}

export interface ClaimHarness {
  /** This process's machine, as its claims name it. */
  readonly host: string;
  /** This process's pid. */
  readonly pid: number;
  /** This process's store. */
  readonly layer: Layer.Layer<ClaimStore>;
  /** Another store instance in the same process (e.g. a second embedded host). */
  readonly secondInstance: Layer.Layer<ClaimStore>;
  /**
   * Makes another live process (on this machine, or on another one) claim `generation` of `account` — marked
   * presenting or not, at `at` by that claimant's clock — and keep the claim open while it lives.
   */
  readonly claimElsewhere: (
    account: AccountRef,
    generation: number,
    options: { readonly machine: "this" | "other"; readonly presenting: boolean; readonly at: number },
  ) => Promise<ClaimElsewhere>;
  /**
   * How a claimant on another machine is judged: alive for `remoteInFlightMs` after its claim ("time-bound", a store
   * that cannot see other machines), or exactly while the shared store sees its process ("shared").
   */
  readonly remoteLiveness: "time-bound" | "shared";
  /** How long after a claimant's process died its presented claim may still count as in flight (ms). */
  readonly deathNoticedWithinMs: number;
  readonly cleanup: () => Promise<void>;
}

const freshAccount = (): AccountRef => ({ provider: "contract", account: `c-${randomBytes(4).toString("hex")}` });
const fp = () => randomBytes(4).toString("hex");

export const claimStoreContract = (
  name: string,
  makeHarness: () => Promise<ClaimHarness>,
  /** The harness's `remoteLiveness`, known before the suite is defined (it decides which test is defined). */
  makeRemote: ClaimHarness["remoteLiveness"],
): void => {
  const withHarness =
    (body: (h: ClaimHarness, store: ClaimStoreShape, second: ClaimStoreShape) => Promise<void>) => async () => {
      const h = await makeHarness();
      try {
        const store = await Effect.runPromise(Effect.provide(ClaimStore.use(Effect.succeed), h.layer));
        const second = await Effect.runPromise(Effect.provide(ClaimStore.use(Effect.succeed), h.secondInstance));
        await body(h, store, second);
      } finally {
        await h.cleanup();
      }
    };
  const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) => Effect.runPromise(Effect.scoped(effect));
  const request = (host: string, pid: number, at = Date.now()): ClaimRequest => ({
    claimant: { host, pid, at },
    refreshFp: fp(),
  });
  const tag = (acquisition: Acquisition) =>
    acquisition._tag === "Granted" ? `Granted ${acquisition.attempt}` : acquisition._tag;
  /**
   * What `acquire` says of (account, generation) once it stops saying "in flight", asking again until the store's
   * bound for noticing a death has passed (an `InFlight` acquisition creates nothing).
   */
  const settled = async (h: ClaimHarness, store: ClaimStoreShape, account: AccountRef, generation: number) => {
    const deadline = Date.now() + h.deathNoticedWithinMs + 2_000;
    for (;;) {
      const found = tag(await run(store.acquire(account, generation, request(h.host, h.pid))));
      if (found !== "InFlight" || Date.now() > deadline) return found;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  describe(`${name} (ClaimStore contract)`, () => {
    it(
      "acquire - should grant attempt 1 of a fresh generation and list it",
      withHarness(async (h, store) => {
        const account = freshAccount();
        const asked = request(h.host, h.pid);
        const granted = await run(store.acquire(account, 3, asked));
        expect(granted).toEqual({ _tag: "Granted", attempt: 1 });
        const listed = await Effect.runPromise(store.list(account, 3));
        expect(listed).toEqual([
          {
            generation: 3,
            attempt: 1,
            claimant: asked.claimant,
            presenting: false,
            released: undefined,
            refreshFp: asked.refreshFp,
            rotated: false,
          },
        ]);
        expect(await Effect.runPromise(store.list(account, 4))).toEqual([]);
      }),
    );

    it(
      "acquire - should count a claim of this process as in flight while its scope is open, for every instance",
      withHarness(async (h, store, second) => {
        const account = freshAccount();
        const seen = await run(
          Effect.gen(function* () {
            yield* store.acquire(account, 1, request(h.host, h.pid));
            const same = yield* Effect.scoped(store.acquire(account, 1, request(h.host, h.pid)));
            const other = yield* Effect.scoped(second.acquire(account, 1, request(h.host, h.pid)));
            return [tag(same), tag(other)];
          }),
        );
        expect(seen).toEqual(["InFlight", "InFlight"]);
      }),
    );

    it(
      "acquire - should grant the next attempt once a claim that never presented was given up",
      withHarness(async (h, store) => {
        const account = freshAccount();
        await run(store.acquire(account, 1, request(h.host, h.pid)));
        expect(await run(store.acquire(account, 1, request(h.host, h.pid)))).toEqual({ _tag: "Granted", attempt: 2 });
      }),
    );

    it(
      "acquire - should find a presented claim that was given up in doubt, and never grant it",
      withHarness(async (h, store) => {
        const account = freshAccount();
        const asked = request(h.host, h.pid);
        await run(
          Effect.gen(function* () {
            const granted = yield* store.acquire(account, 2, asked);
            if (granted._tag === "Granted") yield* store.markPresenting(account, 2, granted.attempt);
          }),
        );
        const found = await run(store.acquire(account, 2, request(h.host, h.pid)));
        expect(found).toMatchObject({
          _tag: "InDoubt",
          presented: 1,
          nextAttempt: 2,
          claim: { attempt: 1, presenting: true, claimant: asked.claimant },
        });
        expect(await Effect.runPromise(store.list(account, 2))).toHaveLength(1);
      }),
    );

    it(
      "acquire - should wait for another live process on this host, then judge it by what it left when it ended",
      withHarness(async (h, store) => {
        const quiet = freshAccount();
        const loud = freshAccount();
        const first = await h.claimElsewhere(quiet, 1, { machine: "this", presenting: false, at: Date.now() });
        const second = await h.claimElsewhere(loud, 1, { machine: "this", presenting: true, at: Date.now() });
        expect(tag(await run(store.acquire(quiet, 1, request(h.host, h.pid))))).toBe("InFlight");
        expect(tag(await run(store.acquire(loud, 1, request(h.host, h.pid))))).toBe("InFlight");
        await first.kill();
        await second.kill();
        // Within the store's bound (a database notices a closed connection a moment after the process died).
        expect(await settled(h, store, quiet, 1)).toBe("Granted 2");
        expect(await settled(h, store, loud, 1)).toBe("InDoubt");
      }),
    );

    if (makeRemote === "time-bound") {
      it(
        "acquire - should count a claimant on another machine as in flight until remoteInFlightMs after its claim",
        withHarness(async (h, store) => {
          const recent = freshAccount();
          const old = freshAccount();
          const bound = RefreshSettings.defaultValue().remoteInFlightMs;
          await h.claimElsewhere(recent, 1, { machine: "other", presenting: true, at: Date.now() });
          await h.claimElsewhere(old, 1, { machine: "other", presenting: true, at: Date.now() - bound - 60_000 });
          expect(tag(await run(store.acquire(recent, 1, request(h.host, h.pid))))).toBe("InFlight");
          expect(tag(await run(store.acquire(old, 1, request(h.host, h.pid))))).toBe("InDoubt");
        }),
      );
    } else {
      it(
        "acquire - should count a live claimant on another machine as in flight however old its claim, and judge it once it is gone",
        withHarness(async (h, store) => {
          const account = freshAccount();
          const bound = RefreshSettings.defaultValue().remoteInFlightMs;
          const elsewhere = await h.claimElsewhere(account, 1, {
            machine: "other",
            presenting: true,
            at: Date.now() - bound - 60_000,
          });
          expect(tag(await run(store.acquire(account, 1, request(h.host, h.pid))))).toBe("InFlight");
          await elsewhere.kill();
          expect(await settled(h, store, account, 1)).toBe("InDoubt");
          const [claim] = await Effect.runPromise(store.list(account, 1));
          expect(claim?.claimant).toMatchObject({ host: "another-machine", pid: elsewhere.pid });
        }),
      );
    }

    it(
      "release - should free the generation for the next attempt",
      withHarness(async (h, store) => {
        const account = freshAccount();
        await run(
          Effect.gen(function* () {
            yield* store.acquire(account, 5, request(h.host, h.pid));
            yield* store.markPresenting(account, 5, 1);
            yield* store.release(account, 5, 1, "server_error 503");
            yield* store.release(account, 5, 1, "a second reason is ignored");
          }),
        );
        expect(await run(store.acquire(account, 5, request(h.host, h.pid)))).toEqual({ _tag: "Granted", attempt: 2 });
        const listed = await Effect.runPromise(store.list(account, 5));
        expect(listed.map((c) => [c.attempt, c.presenting, c.released])).toEqual([
          [1, true, "server_error 503"],
          [2, false, undefined],
        ]);
      }),
    );

    it(
      "markRotated - should mark the claim rotated (and presenting) so that it is never mistaken for an unsent one",
      withHarness(async (h, store) => {
        const account = freshAccount();
        await run(
          Effect.gen(function* () {
            yield* store.acquire(account, 1, request(h.host, h.pid));
            yield* store.markRotated(account, 1, 1);
            yield* store.markRotated(account, 1, 1);
          }),
        );
        expect(await run(store.acquire(account, 1, request(h.host, h.pid)))).toMatchObject({
          _tag: "InDoubt",
          claim: { rotated: true, presenting: true },
        });
      }),
    );

    it(
      "retry - should create one given attempt exclusively",
      withHarness(async (h, store) => {
        const account = freshAccount();
        const outcomes = await run(
          Effect.all([
            store.retry(account, 1, 2, request(h.host, h.pid)),
            store.retry(account, 1, 2, request(h.host, h.pid)),
            store.retry(account, 1, 3, request(h.host, h.pid)),
          ]),
        );
        expect(outcomes).toEqual([true, false, true]);
      }),
    );

    it(
      "acquire - should grant exactly one of 16 concurrent claimants",
      withHarness(async (h, store) => {
        const account = freshAccount();
        const outcomes = await run(
          Effect.all(
            Array.from({ length: 16 }, () => store.acquire(account, 1, request(h.host, h.pid))),
            { concurrency: "unbounded" },
          ),
        );
        expect(outcomes.filter((o) => o._tag === "Granted")).toHaveLength(1);
        expect(outcomes.filter((o) => o._tag === "InFlight")).toHaveLength(15);
      }),
    );

    it(
      "highest and prune - should tell the highest generation ever claimed and remove superseded claims",
      withHarness(async (h, store) => {
        const account = freshAccount();
        expect(await Effect.runPromise(store.highest(account))).toBe(0);
        await run(
          Effect.forEach([3, 4, 5], (g) =>
            Effect.gen(function* () {
              yield* store.acquire(account, g, request(h.host, h.pid));
              yield* store.markPresenting(account, g, 1);
            }),
          ),
        );
        expect(await Effect.runPromise(store.highest(account))).toBe(5);
        expect(await Effect.runPromise(store.prune(account, 5))).toBe(2);
        expect(await Effect.runPromise(store.list(account, 3))).toEqual([]);
        expect(await Effect.runPromise(store.list(account, 4))).toEqual([]);
        expect(await Effect.runPromise(store.list(account, 5))).toHaveLength(1);
        expect(await Effect.runPromise(store.highest(account))).toBe(5);
      }),
    );
  });
};
