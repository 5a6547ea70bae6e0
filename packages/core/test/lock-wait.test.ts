/**
 * `waitForLock` and the change watcher: a process that gets the lock at once never watches (it would be woken by its
 * own writes for the whole refresh), and one that finds it held watches first and then tries again at once, so that
 * a release between its failed attempt and the watch is not missed. A scripted lock records every call.
 */
import { Effect, Layer } from "effect";
import { describe, expect, it } from "vitest";
import type { AccountRef } from "../src/account.ts";
import { AccountLock, type LockLease } from "../src/ports/lock.ts";
import { waitForLock } from "../src/protocol/lock-wait.ts";

const account: AccountRef = { provider: "github", account: "work" };

const lease: LockLease = { release: Effect.void, lost: Effect.succeed(false) };

/** A lock whose attempts answer from `held` in turn (then free); `next` on a watcher is a test failure. */
const scriptedLock = (held: ReadonlyArray<boolean>) => {
  const calls: Array<string> = [];
  let attempt = 0;
  const layer = Layer.succeed(
    AccountLock,
    AccountLock.of({
      tryAcquire: () =>
        Effect.sync(() => {
          calls.push("try");
          const busy = held[attempt] ?? false;
          attempt += 1;
          return busy ? undefined : lease;
        }),
      watch: () =>
        Effect.sync(() => {
          calls.push("watch");
          return { next: () => Effect.die(new Error("the waiter slept although the lock was free")) };
        }),
    }),
  );
  return { calls, layer };
};

const wait = (layer: Layer.Layer<AccountLock>) =>
  Effect.runPromise(Effect.scoped(waitForLock(account, Effect.succeed(undefined))).pipe(Effect.provide(layer)));

describe("waitForLock", () => {
  it("waitForLock - given a free lock, should take it without watching", async () => {
    const { calls, layer } = scriptedLock([]);
    const outcome = await wait(layer);
    expect(outcome).toEqual({ _tag: "Locked", waited: false, waitedMs: expect.any(Number) });
    expect(calls).toEqual(["try"]);
  });

  it("waitForLock - given a lock released between the failed attempt and the watch, should take it at once", async () => {
    const { calls, layer } = scriptedLock([true]);
    const outcome = await wait(layer);
    expect(outcome).toMatchObject({ _tag: "Locked", waited: true });
    expect(calls).toEqual(["try", "watch", "try"]);
  });
});
