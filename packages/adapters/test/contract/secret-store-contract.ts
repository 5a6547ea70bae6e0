/**
 * The contract every SecretStore adapter must meet, as a reusable vitest suite: not-found reads as `undefined`,
 * round trips, compare-and-set on the generation (I2: a wrong expectation conflicts and changes nothing, an older
 * generation never overwrites a newer one, exactly one of 20 racing writers wins), remove, list, independent
 * accounts, and a writability probe that leaves nothing behind. Each test gets a fresh store from `makeLayer` and calls its `cleanup` afterwards. Tokens are random per run.
 *
 * `options.skipReason`, when set, reports every test as skipped with that note (used when the backing service, such
 * as a keychain, is not reachable on this machine); `options.failReason` makes every test fail with that message
 * instead (used when the service is required, so that it cannot be skipped silently).
 */
import { randomBytes } from "node:crypto";
import { type AccountRef, accountKey, type Credentials, SecretStore, type SecretStoreShape } from "@baton/core";
import { Effect, type Layer } from "effect";
import { describe, expect, it, type TestContext } from "vitest";

export interface ContractStore {
  readonly layer: Layer.Layer<SecretStore>;
  readonly cleanup: () => Promise<void>;
}

export interface ContractOptions {
  /** Skip every test with this note. */
  readonly skipReason?: string | undefined;
  /** Fail every test with this message (takes precedence over `skipReason`). */
  readonly failReason?: string | undefined;
}

const token = (kind: string) => `${kind}-${randomBytes(12).toString("hex")}`;

/** One generation of credentials for `account`, with random token values. */
export const randomCredentials = (account: AccountRef, generation: number): Credentials => ({
  version: 1,
  account: accountKey(account),
  generation,
  accessToken: token("at"),
  refreshToken: token("rt"),
  tokenType: "Bearer",
  expiresAt: Date.now() + 3_600_000,
  obtainedAt: Date.now(),
  scope: "read write",
  issuer: "https://issuer.example",
  clientId: "baton-contract",
});

/** A fresh account reference, so stores that outlive a test (keychains) never see another test's items. */
const freshAccount = (provider = "contract"): AccountRef => ({
  provider,
  account: `a-${randomBytes(4).toString("hex")}`,
});

export const secretStoreContract = (
  name: string,
  makeLayer: () => Promise<ContractStore>,
  options: ContractOptions = {},
): void => {
  /** Runs `body` against a fresh store, cleaning up whatever happens; skips when the store is not available. */
  const withStore =
    <A, E>(body: (store: SecretStoreShape) => Effect.Effect<A, E>, check: (result: A) => void) =>
    async (context: TestContext) => {
      if (options.failReason !== undefined) throw new Error(options.failReason);
      if (options.skipReason !== undefined) return context.skip(options.skipReason);
      const made = await makeLayer();
      try {
        check(await Effect.runPromise(Effect.provide(SecretStore.use(body), made.layer)));
      } finally {
        await made.cleanup();
      }
    };

  describe(`${name} (SecretStore contract)`, () => {
    it(
      "read - should return undefined for an unknown account",
      withStore(
        (s) => s.read(freshAccount()),
        (result) => expect(result).toBeUndefined(),
      ),
    );

    const roundTrip = { account: freshAccount(), record: undefined as Credentials | undefined };
    it(
      "write - should round-trip a record through read",
      withStore(
        (s) => {
          roundTrip.record = randomCredentials(roundTrip.account, 1);
          return Effect.andThen(s.write(roundTrip.account, roundTrip.record, 0), s.read(roundTrip.account));
        },
        (result) => expect(result).toEqual(roundTrip.record),
      ),
    );

    const wrong = freshAccount();
    const wrongFirst = randomCredentials(wrong, 1);
    it(
      "write - should fail with GenerationConflict on a wrong expected generation and leave the record unchanged",
      withStore(
        (s) =>
          Effect.gen(function* () {
            yield* s.write(wrong, wrongFirst, 0);
            const fresh = yield* Effect.flip(s.write(wrong, randomCredentials(wrong, 2), 0));
            const ahead = yield* Effect.flip(s.write(wrong, randomCredentials(wrong, 3), 2));
            return { fresh, ahead, stored: yield* s.read(wrong) };
          }),
        ({ fresh, ahead, stored }) => {
          expect(fresh).toMatchObject({
            _tag: "GenerationConflict",
            account: accountKey(wrong),
            expected: 0,
            found: 1,
          });
          expect(ahead).toMatchObject({ _tag: "GenerationConflict", expected: 2, found: 1 });
          expect(stored).toEqual(wrongFirst);
        },
      ),
    );

    const older = freshAccount();
    const newest = randomCredentials(older, 3);
    it(
      "write - should never let an older generation overwrite a newer one",
      withStore(
        (s) =>
          Effect.gen(function* () {
            yield* s.write(older, randomCredentials(older, 1), 0);
            yield* s.write(older, randomCredentials(older, 2), 1);
            yield* s.write(older, newest, 2);
            const replayed = yield* Effect.flip(s.write(older, randomCredentials(older, 3), 2));
            const backwards = yield* Effect.flip(s.write(older, randomCredentials(older, 2), 3));
            const same = yield* Effect.flip(s.write(older, randomCredentials(older, 3), 3));
            return { replayed, backwards, same, stored: yield* s.read(older) };
          }),
        ({ replayed, backwards, same, stored }) => {
          expect(replayed).toMatchObject({ _tag: "GenerationConflict", expected: 2, found: 3 });
          expect(backwards).toMatchObject({ _tag: "GenerationConflict", expected: 3, found: 3 });
          expect(same).toMatchObject({ _tag: "GenerationConflict", expected: 3, found: 3 });
          expect(stored).toEqual(newest);
        },
      ),
    );

    const removed = freshAccount();
    it(
      "remove - should make read return undefined, and tolerate removing twice",
      withStore(
        (s) =>
          Effect.gen(function* () {
            yield* s.write(removed, randomCredentials(removed, 1), 0);
            yield* s.remove(removed);
            yield* s.remove(removed);
            const afterRemove = yield* s.read(removed);
            yield* s.write(removed, randomCredentials(removed, 1), 0);
            return { afterRemove, relogin: yield* s.read(removed) };
          }),
        ({ afterRemove, relogin }) => {
          expect(afterRemove).toBeUndefined();
          expect(relogin?.generation).toBe(1);
        },
      ),
    );

    const listedA = freshAccount("alpha");
    const listedB = freshAccount("beta");
    it(
      "list - should include every written account and drop removed ones",
      withStore(
        (s) =>
          Effect.gen(function* () {
            yield* s.write(listedA, randomCredentials(listedA, 1), 0);
            yield* s.write(listedB, randomCredentials(listedB, 1), 0);
            const before = yield* s.list();
            yield* s.remove(listedB);
            return { before, after: yield* s.list() };
          }),
        ({ before, after }) => {
          expect(before).toEqual(expect.arrayContaining([listedA, listedB]));
          expect(after).toEqual(expect.arrayContaining([listedA]));
          expect(after).not.toContainEqual(listedB);
        },
      ),
    );

    const one = freshAccount();
    const two = freshAccount();
    const twoRecord = randomCredentials(two, 1);
    it(
      "write - should keep two accounts independent",
      withStore(
        (s) =>
          Effect.gen(function* () {
            yield* s.write(one, randomCredentials(one, 1), 0);
            yield* s.write(two, twoRecord, 0);
            yield* s.write(one, randomCredentials(one, 2), 1);
            yield* s.remove(one);
            return { one: yield* s.read(one), two: yield* s.read(two) };
          }),
        (result) => {
          expect(result.one).toBeUndefined();
          expect(result.two).toEqual(twoRecord);
        },
      ),
    );

    const probed = freshAccount();
    it(
      "probe - should succeed on a usable store and leave no record behind",
      withStore(
        (s) =>
          Effect.gen(function* () {
            const before = yield* s.list();
            yield* s.probe(probed);
            return { before, after: yield* s.list(), read: yield* s.read(probed) };
          }),
        ({ before, after, read }) => {
          expect(after).toEqual(before);
          expect(read).toBeUndefined();
        },
      ),
    );

    const raced = freshAccount();
    const contenders = Array.from({ length: 20 }, () => randomCredentials(raced, 2));
    it(
      "write - should let exactly one of 20 concurrent writers racing on one generation win",
      withStore(
        (s) =>
          Effect.gen(function* () {
            yield* s.write(raced, randomCredentials(raced, 1), 0);
            const outcomes = yield* Effect.all(
              contenders.map((next) => Effect.result(s.write(raced, next, 1))),
              { concurrency: "unbounded" },
            );
            return { outcomes, stored: yield* s.read(raced) };
          }),
        ({ outcomes, stored }) => {
          const winners = outcomes.flatMap((outcome, i) => (outcome._tag === "Success" ? [i] : []));
          expect(winners).toHaveLength(1);
          for (const outcome of outcomes) {
            if (outcome._tag === "Failure") expect(outcome.failure).toMatchObject({ _tag: "GenerationConflict" });
          }
          expect(stored).toEqual(contenders[winners[0] ?? -1]);
        },
      ),
    );
  });
};
