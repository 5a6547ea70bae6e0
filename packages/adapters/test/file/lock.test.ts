/**
 * The proper-lockfile account lock and its watcher: exclusion, owner records, recovery of a SIGKILLed holder (timed),
 * no takeover of a live holder, wake-up latency when another process releases the lock or replaces secret.json, the
 * change counter between `next` calls, and a compromised lease turning into `lost` instead of a crash.
 */

import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { AccountLock } from "@baton/core";
import { Effect, Layer } from "effect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { layerFileStores } from "../../src/file/index.ts";
import * as FileLock from "../../src/file/lock.ts";
import { lstatSyncOrUndefined } from "../../src/file/paths.ts";
import { account, makeHome, preciseNow, runWith, startChild } from "./helpers.ts";

let home: string;
let cleanup: () => void;
beforeEach(() => {
  ({ home, cleanup } = makeHome());
});
afterEach(() => cleanup());

const accountDir = () => join(home, "accounts", "github", "work");
const lockDir = () => join(accountDir(), "refresh.lock");
const tryAcquire = AccountLock.use((lock) => lock.tryAcquire(account));

describe("file account lock", () => {
  it("tryAcquire - should exclude a second holder until release, and write the owner record", async () => {
    const result = await runWith(
      home,
      Effect.gen(function* () {
        const first = yield* tryAcquire;
        const second = yield* tryAcquire;
        const owner = JSON.parse(readFileSync(join(lockDir(), "owner.json"), "utf8"));
        yield* first!.release;
        yield* first!.release;
        const third = yield* tryAcquire;
        const lost = yield* third!.lost;
        yield* third!.release;
        return { first, second, owner, third, lost };
      }),
    );
    expect(result.first).toBeDefined();
    expect(result.second).toBeUndefined();
    expect(result.third).toBeDefined();
    expect(result.lost).toBe(false);
    expect(result.owner).toMatchObject({ host: hostname(), pid: process.pid });
    expect(readdirSync(accountDir())).toEqual([]);
  });

  it("tryAcquire - should not take over the lock of a live holder in another process", async () => {
    const holder = startChild("store-worker.mjs", [home, "hold"]);
    await holder.line("locked");
    expect(await runWith(home, tryAcquire)).toBeUndefined();
    holder.send("release");
    await holder.line("released");
    const lease = await runWith(home, tryAcquire);
    expect(lease).toBeDefined();
    await runWith(home, lease!.release);
    holder.send("exit");
    await holder.exited;
  });

  for (const [script, label] of [
    ["store-worker.mjs", "the adapter"],
    ["lock-holder.mjs", "plain proper-lockfile"],
  ] as const) {
    it(`tryAcquire - should recover the lock of a SIGKILLed holder (${label}) within milliseconds`, async () => {
      mkdirSync(accountDir(), { recursive: true, mode: 0o700 });
      const holder = startChild(script, script === "store-worker.mjs" ? [home, "hold"] : [accountDir()]);
      await holder.line("locked");
      expect(await runWith(home, tryAcquire)).toBeUndefined();
      const killedAt = preciseNow();
      holder.process.kill("SIGKILL");
      await holder.exited;
      const reapedAt = preciseNow();
      const logs: Array<string> = [];
      const lease = await runWith(home, tryAcquire, logs);
      const acquiredAt = preciseNow();
      console.log(
        `[lock] SIGKILLed holder (${label}): lock recovered ${(acquiredAt - killedAt).toFixed(2)} ms after the kill ` +
          `(${(acquiredAt - reapedAt).toFixed(2)} ms after the exit was reaped)`,
      );
      expect(lease).toBeDefined();
      expect(acquiredAt - killedAt).toBeLessThan(1000);
      expect(logs.some((l) => l.includes("recovered the lock"))).toBe(true);
      expect(readdirSync(accountDir()).filter((n) => n.includes("dead"))).toEqual([]);
      expect(JSON.parse(readFileSync(join(lockDir(), "owner.json"), "utf8")).pid).toBe(process.pid);
      await runWith(home, lease!.release);
    });
  }

  it("tryAcquire - should give a dead holder's lock to exactly one of 6 processes recovering it at once", async () => {
    for (let round = 0; round < 2; round++) {
      const holder = startChild("store-worker.mjs", [home, "hold"]);
      await holder.line("locked");
      const startAt = String(Date.now() + 2_500);
      const racers = Array.from({ length: 6 }, () => startChild("store-worker.mjs", [home, "hold", startAt]));
      holder.process.kill("SIGKILL");
      await holder.exited;
      const outcomes = await Promise.all(racers.map((racer) => racer.line(/^(locked|busy)$/)));
      expect(outcomes.filter((o) => o === "locked")).toHaveLength(1);
      expect(outcomes.filter((o) => o === "busy")).toHaveLength(5);
      for (const racer of racers) racer.send("exit");
      await Promise.all(racers.map((racer) => racer.exited));
    }
  });

  it("tryAcquire - should refuse a symlink planted at refresh.lock", async () => {
    mkdirSync(accountDir(), { recursive: true, mode: 0o700 });
    const target = join(home, "target");
    mkdirSync(target);
    symlinkSync(target, lockDir());
    const failure = await runWith(home, Effect.flip(tryAcquire));
    expect(failure).toMatchObject({ _tag: "LockFailure", reason: "io" });
    expect(failure.message).toContain("symbolic link");
    expect(lstatSync(target).isDirectory()).toBe(true);
  });

  for (const action of ["release", "write"] as const) {
    it(`watch - should wake within 50 ms when another process ${action === "release" ? "releases the lock" : "replaces secret.json"}`, async () => {
      const holder = startChild("store-worker.mjs", [home, "hold"]);
      await holder.line("locked");
      const [wokeAt, line] = await runWith(
        home,
        Effect.scoped(
          Effect.gen(function* () {
            const lock = yield* AccountLock;
            const watcher = yield* lock.watch(account);
            expect(yield* lock.tryAcquire(account)).toBeUndefined();
            return yield* Effect.all(
              [
                watcher.next(5_000).pipe(Effect.map(() => preciseNow())),
                Effect.promise(async () => {
                  holder.send(action);
                  return holder.line(action === "release" ? "released" : "written");
                }),
              ],
              { concurrency: "unbounded" },
            );
          }),
        ),
      );
      const latency = wokeAt - Number(line.split(" ")[1]);
      console.log(`[watch] woke ${latency.toFixed(2)} ms after another process began to ${action}`);
      expect(latency).toBeLessThan(50);
      holder.send("exit");
      await holder.exited;
    });
  }

  it("watch - next should return at once for a change made between two calls, and time out otherwise", async () => {
    const timings = await runWith(
      home,
      Effect.scoped(
        Effect.gen(function* () {
          const lock = yield* AccountLock;
          const watcher = yield* lock.watch(account);
          const other = yield* lock.watch(account);
          const lease = yield* lock.tryAcquire(account);
          yield* lease!.release;
          yield* Effect.promise(() => sleep(50));
          const start = preciseNow();
          yield* watcher.next(2_000);
          const immediate = preciseNow() - start;
          yield* other.next(2_000);
          const second = preciseNow();
          yield* watcher.next(150);
          const timedOut = preciseNow() - second;
          return { immediate, timedOut };
        }),
      ),
    );
    expect(timings.immediate).toBeLessThan(20);
    expect(timings.timedOut).toBeGreaterThanOrEqual(140);
  });

  it("watch - should not wake a waiter when the lock is taken, only when it is released", async () => {
    const woken = await runWith(
      home,
      Effect.scoped(
        Effect.gen(function* () {
          const lock = yield* AccountLock;
          mkdirSync(accountDir(), { recursive: true, mode: 0o700 });
          const watcher = yield* lock.watch(account);
          // Taken (the directory appears): a waiter must sleep on — it waits for the lock to be free.
          const lease = yield* lock.tryAcquire(account);
          const start = preciseNow();
          yield* watcher.next(300);
          const takenWaitMs = preciseNow() - start;
          yield* lease!.release;
          const released = preciseNow();
          yield* watcher.next(2_000);
          return { takenWaitMs, releaseWaitMs: preciseNow() - released };
        }),
      ),
    );
    expect(woken.takenWaitMs).toBeGreaterThanOrEqual(290);
    expect(woken.releaseWaitMs).toBeLessThan(100);
  });

  it("lease - should turn a compromised lock into lost=true with a warning, not a crash", async () => {
    const fast = Layer.merge(
      layerFileStores({ home }),
      FileLock.layer({ home, timing: { staleMs: 2_000, updateMs: 1_000 } }).pipe(
        Layer.provide(layerFileStores({ home })),
      ),
    );
    const logs: Array<string> = [];
    const lost = await runWith(
      home,
      Effect.gen(function* () {
        const lease = yield* tryAcquire;
        const before = yield* lease!.lost;
        // Someone else's heartbeat: the mtime is no longer the one this holder wrote.
        const past = new Date(Date.now() - 60_000);
        utimesSync(lockDir(), past, past);
        yield* Effect.promise(() => sleep(1_600));
        const after = yield* lease!.lost;
        yield* lease!.release;
        return { before, after };
      }),
      logs,
      fast,
    );
    expect(lost).toEqual({ before: false, after: true });
    expect(logs.some((l) => l.includes("was lost"))).toBe(true);
    // Nobody took it over (the owner record still carries this holder's nonce): its release removes it.
    expect(lstatSyncOrUndefined(lockDir())).toBeUndefined();
  });

  it("release - should leave a lock that another owner took over while this holder stalled", async () => {
    const logs: Array<string> = [];
    await runWith(
      home,
      Effect.gen(function* () {
        const lease = yield* tryAcquire;
        const ownerPath = join(lockDir(), "owner.json");
        writeFileSync(ownerPath, JSON.stringify({ host: "elsewhere", pid: 1, nonce: "00112233445566778899" }));
        yield* lease!.release;
      }),
      logs,
    );
    expect(lstatSync(lockDir()).isDirectory()).toBe(true);
    expect(logs.some((l) => l.includes("taken over"))).toBe(true);
  });
});
