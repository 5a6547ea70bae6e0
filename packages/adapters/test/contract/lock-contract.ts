/**
 * The contract every AccountLock adapter must meet (I5, I6), as a reusable vitest suite: one holder at a time — also
 * against a second store instance in the same process and against another live process —, a dead holder's lock
 * recovered within the store's bound, never a live one's; `release` idempotent and waking waiters; and watchers that
 * wake on an unlock or a credentials write of their account, remember a change made between two `next` calls, and
 * otherwise return after their time limit.
 *
 * A harness gives this process's lock, a second instance in the same process, the secret store of the same store (to
 * write credentials), and another live process holding the lock until the test kills it.
 */
import { randomBytes } from "node:crypto";
import { AccountLock, type AccountLockShape, type AccountRef, SecretStore, type SecretStoreShape } from "@baton/core";
import { Effect, type Layer } from "effect";
import { describe, expect, it } from "vitest";
import { randomCredentials } from "./secret-store-contract.ts";

export interface LockHarness {
  readonly layer: Layer.Layer<AccountLock>;
  readonly secondInstance: Layer.Layer<AccountLock>;
  /** The secret store of the same store (its writes wake watchers). */
  readonly secrets: Layer.Layer<SecretStore>;
  /** Another live process that takes the account's lock and holds it until `kill`. */
  readonly holdElsewhere: (account: AccountRef) => Promise<{ readonly kill: () => Promise<void> }>;
  /** How long after a holder's process died its lock may still be held (ms). */
  readonly deadHolderRecoveredWithinMs: number;
  readonly cleanup: () => Promise<void>;
}

const freshAccount = (): AccountRef => ({ provider: "contract", account: `l-${randomBytes(4).toString("hex")}` });

export const lockContract = (name: string, makeHarness: () => Promise<LockHarness>): void => {
  const withHarness =
    (
      body: (
        h: LockHarness,
        lock: AccountLockShape,
        second: AccountLockShape,
        secrets: SecretStoreShape,
      ) => Promise<void>,
    ) =>
    async () => {
      const h = await makeHarness();
      try {
        const lockOf = (layer: Layer.Layer<AccountLock>) =>
          Effect.runPromise(Effect.provide(AccountLock.use(Effect.succeed), layer));
        const lock = await lockOf(h.layer);
        const second = await lockOf(h.secondInstance);
        const secrets = await Effect.runPromise(Effect.provide(SecretStore.use(Effect.succeed), h.secrets));
        await body(h, lock, second, secrets);
      } finally {
        await h.cleanup();
      }
    };
  const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect);

  describe(`${name} (AccountLock contract)`, () => {
    it(
      "tryAcquire - should give the lock to one holder at a time, also against another instance in this process",
      withHarness(async (_h, lock, second) => {
        const account = freshAccount();
        const lease = await run(lock.tryAcquire(account));
        expect(lease).toBeDefined();
        expect(await run(lock.tryAcquire(account))).toBeUndefined();
        expect(await run(second.tryAcquire(account))).toBeUndefined();
        expect(await run(lock.tryAcquire(freshAccount()))).toBeDefined();
        expect(await run(lease?.lost ?? Effect.succeed(true))).toBe(false);
        await run(lease?.release ?? Effect.void);
        await run(lease?.release ?? Effect.void);
        const again = await run(second.tryAcquire(account));
        expect(again).toBeDefined();
        await run(again?.release ?? Effect.void);
      }),
    );

    it(
      "tryAcquire - should never take the lock of a live process, and recover it once that process is dead",
      withHarness(async (h, lock) => {
        const account = freshAccount();
        const holder = await h.holdElsewhere(account);
        expect(await run(lock.tryAcquire(account))).toBeUndefined();
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(await run(lock.tryAcquire(account))).toBeUndefined();
        await holder.kill();
        const deadline = Date.now() + h.deadHolderRecoveredWithinMs + 2_000;
        let lease = await run(lock.tryAcquire(account));
        while (lease === undefined && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          lease = await run(lock.tryAcquire(account));
        }
        expect(lease).toBeDefined();
        await run(lease?.release ?? Effect.void);
      }),
    );

    it(
      "watch - should wake a waiter when the holder releases the lock",
      withHarness(async (_h, lock, second) => {
        const account = freshAccount();
        const lease = await run(lock.tryAcquire(account));
        const waited = await run(
          Effect.scoped(
            Effect.gen(function* () {
              const watcher = yield* second.watch(account);
              const started = Date.now();
              yield* Effect.forkChild(Effect.delay(lease?.release ?? Effect.void, "100 millis"));
              yield* watcher.next(10_000);
              return Date.now() - started;
            }),
          ),
        );
        expect(waited).toBeGreaterThanOrEqual(80);
        expect(waited).toBeLessThan(5_000);
      }),
    );

    it(
      "watch - should wake on a credentials write of its account, remember a change between two calls, and time out otherwise",
      withHarness(async (_h, lock, _second, secrets) => {
        const account = freshAccount();
        const outcome = await run(
          Effect.scoped(
            Effect.gen(function* () {
              const watcher = yield* lock.watch(account);
              const quietStart = Date.now();
              yield* watcher.next(400);
              const quietMs = Date.now() - quietStart;
              const wokenStart = Date.now();
              yield* Effect.forkChild(
                Effect.delay(secrets.write(account, randomCredentials(account, 1), 0), "100 millis"),
              );
              yield* watcher.next(10_000);
              const wokenMs = Date.now() - wokenStart;
              yield* secrets.write(account, randomCredentials(account, 2), 1);
              yield* Effect.sleep("200 millis");
              const rememberedStart = Date.now();
              yield* watcher.next(10_000);
              return { quietMs, wokenMs, rememberedMs: Date.now() - rememberedStart };
            }),
          ),
        );
        expect(outcome.quietMs).toBeGreaterThanOrEqual(350);
        expect(outcome.wokenMs).toBeLessThan(5_000);
        expect(outcome.rememberedMs).toBeLessThan(100);
      }),
    );
  });
};
