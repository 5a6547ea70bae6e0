/**
 * The config lock (`<home>/config.lock`): taken exclusively, released by its owner only, recovered at once from a dead
 * owner on this host (a gone pid, or a boot before this one), never taken from a live owner or one on another host —
 * a waiter then gives up after its bound with a retryable error naming the holder.
 */
import { spawnSync } from "node:child_process";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { Retryable } from "@baton/core";
import { Effect } from "effect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CONFIG_LOCK_FILE, type ConfigLockOwner, withConfigLock } from "../../src/config/config-lock.ts";
import { failureOf, run, tempHome } from "../oauth/helpers.ts";

let home: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ home, cleanup } = await tempHome());
  await mkdir(home, { recursive: true, mode: 0o700 });
});
afterEach(async () => {
  await cleanup();
});

/** The pid of a process that has exited and been reaped. */
const deadPid = (): number =>
  Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout);

const writeLock = (owner: ConfigLockOwner) =>
  writeFile(join(home, CONFIG_LOCK_FILE), JSON.stringify(owner), { mode: 0o600 });

const lockText = () => readFile(join(home, CONFIG_LOCK_FILE), "utf8").catch(() => undefined);

const NONCE = "0123456789abcdef";

describe("withConfigLock", () => {
  it("withConfigLock - should hold the lock while the change runs and remove it afterwards", async () => {
    const seen = await run(withConfigLock(home)(Effect.promise(lockText)));
    expect(JSON.parse(seen ?? "{}")).toMatchObject({ host: hostname(), pid: process.pid });
    expect(await lockText()).toBeUndefined();
  });

  it("withConfigLock - should release the lock when the change fails", async () => {
    await failureOf(withConfigLock(home)(Effect.fail("broken change")));
    expect(await lockText()).toBeUndefined();
  });

  it("withConfigLock - given two changes at once, should run them one after the other", async () => {
    const log: Array<string> = [];
    const change = (name: string) =>
      withConfigLock(home)(
        Effect.gen(function* () {
          log.push(`${name} start`);
          yield* Effect.sleep(50);
          log.push(`${name} end`);
        }),
      );
    await run(Effect.all([change("a"), change("b")], { concurrency: 2 }));
    const first = log[0]?.split(" ")[0];
    const second = first === "a" ? "b" : "a";
    expect(log).toEqual([`${first} start`, `${first} end`, `${second} start`, `${second} end`]);
  });

  it("withConfigLock - given the lock of a dead process on this host, should recover it at once", async () => {
    const pid = deadPid();
    await writeLock({ host: hostname(), pid, nonce: NONCE });
    const started = Date.now();
    expect(await run(withConfigLock(home, 5_000)(Effect.succeed("changed")))).toBe("changed");
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await lockText()).toBeUndefined();
    expect((await readdir(home)).filter((name) => name.startsWith(CONFIG_LOCK_FILE))).toEqual([]);
  });

  it("withConfigLock - given the lock of a live process written before the last boot, should recover it", async () => {
    await writeLock({ host: hostname(), pid: process.pid, nonce: NONCE, boot: "a-boot-before-this-one" });
    expect(await run(withConfigLock(home, 2_000)(Effect.succeed("changed")))).toBe("changed");
  });

  it.each([
    ["a live process on this host", { host: hostname(), pid: process.ppid, nonce: NONCE }],
    ["a process on another host", { host: `not-${hostname()}`, pid: deadPid(), nonce: NONCE }],
  ])(
    "withConfigLock - given the lock of %s, should never take it and fail retryably after the wait",
    async (_, owner) => {
      await writeLock(owner);
      const before = await lockText();
      let ran = false;
      const failure = await failureOf(
        withConfigLock(
          home,
          300,
        )(
          Effect.sync(() => {
            ran = true;
          }),
        ),
      );
      expect(failure).toBeInstanceOf(Retryable);
      expect(failure).toMatchObject({ reason: "lock-timeout" });
      expect((failure as Retryable).message).toContain(`pid ${owner.pid} on ${owner.host}`);
      expect((failure as Retryable).message).toContain(join(home, CONFIG_LOCK_FILE));
      expect(ran).toBe(false);
      expect(await lockText()).toBe(before);
    },
  );
});
