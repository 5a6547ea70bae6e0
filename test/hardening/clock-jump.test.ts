/**
 * A wall-clock jump while a process waits for the lock (#14 item 6), with real `baton` processes: the holder's lock is
 * never taken over because the waiter's clock moved (I5: a live holder on this host keeps its lock, whatever its
 * heartbeat's mtime looks like), and the waiter's bounded wait is measured on the monotonic clock, so a jump neither
 * ends it early nor stretches it. Before: the waiter's clock jumping 10 minutes made it fail at once with "held the
 * lock for 60 s" (exit 4), and proper-lockfile judged the live holder's heartbeat stale. With its clock 10 minutes
 * ahead, the waiter sees even the new token as expired and refreshes once more: "at most one extra refresh" (SPEC §6).
 */
import { describe, expect, it } from "vitest";
import { loggedInAccount, REF, sleep, startHooked, waitUntilExpired } from "../support/account.ts";
import { startBaton } from "../support/baton-cli.ts";
import { adjustableClock } from "../support/faketime.ts";
import { describeExit, useLocalServer } from "../support/local-server.ts";

const LATENCY_MS = 4_000;
const server = useLocalServer({ accessTokenTtlSeconds: 2, latencyMs: LATENCY_MS });

describe("a wall clock that jumps while waiting", () => {
  it("waiter's clock jumps 10 minutes forward - should keep waiting for the live holder, then make at most one extra refresh", async () => {
    const account = await loggedInAccount(server());
    const clock = await adjustableClock(0);
    try {
      await waitUntilExpired(account.home);
      const before = server().counters();
      const holder = startHooked(["token", REF], account.home, "presenting:stall-ms:0");
      await holder.reached;
      const waiter = startBaton(["token", REF], { home: account.home, env: { ...clock.env, BATON_DEBUG: "1" } });
      await sleep(700);
      expect(waiter.child.exitCode, "the waiter should still be waiting for the lock").toBeNull();
      await clock.set(600);
      const [held, waited] = await Promise.all([holder.done, waiter.done]);
      expect(held.code, describeExit(held)).toBe(0);
      expect(waited.code, describeExit(waited)).toBe(0);
      expect(waited.stdout.trim()).not.toBe("");
      const after = server().counters();
      expect(after.reuseErrors - before.reuseErrors).toBe(0);
      expect(after.refreshGrants - before.refreshGrants).toBeLessThanOrEqual(2);
      // The waiter never took the lock while the holder was alive: it logged no recovery or takeover.
      expect(waited.stderr).not.toMatch(/recovered the lock|taken over/);
    } finally {
      await clock.dispose();
      await account.cleanup();
    }
  });
});
