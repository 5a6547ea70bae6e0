/**
 * Signals to the process that is refreshing (#14 item 7), with real `baton` processes: SIGTERM, SIGINT or SIGHUP while
 * the refresh request is on the wire waits for the answer (the server has rotated: losing the answer would log every
 * process out), stores it, and only then exits, with 128 + the signal's number; the next process uses the new
 * generation without a server call. A signal before the request left releases the claim: the next process refreshes
 * once. Before: no handler — the process died with the request in flight, and the next process found the claim in
 * doubt and revoked the account.
 */
import { constants } from "node:os";
import { describe, expect, it } from "vitest";
import {
  claimFiles,
  loggedInAccount,
  readSecretRecord,
  startHooked,
  status,
  token,
  waitUntilExpired,
} from "../support/account.ts";
import { counterDelta, describeExit, useLocalServer } from "../support/local-server.ts";

const LATENCY_MS = 1_500;
const server = useLocalServer({ accessTokenTtlSeconds: 2, latencyMs: LATENCY_MS });

describe("a stop signal during a refresh", () => {
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    it(`${signal} while the request is on the wire - should store the answer, then exit ${128 + constants.signals[signal]}`, async () => {
      const account = await loggedInAccount(server());
      try {
        await waitUntilExpired(account.home);
        const before = server().counters();
        const holder = startHooked(["token", "demo:you"], account.home, "presenting:stall-ms:0");
        await holder.reached;
        // The request leaves right after the point; the server answers LATENCY_MS later.
        await new Promise((resolve) => setTimeout(resolve, 200));
        holder.child.kill(signal);
        const stopped = await holder.done;
        expect(stopped.code, describeExit(stopped)).toBe(128 + constants.signals[signal]);
        expect(stopped.stdout).toBe("");
        expect((await readSecretRecord(account.home)).generation).toBe(2);
        const next = await token(account.home);
        expect(next.code, describeExit(next)).toBe(0);
        expect(counterDelta(server(), before)).toEqual({ refreshGrants: 1, reuseErrors: 0, tokenRequests: 1 });
        expect(await status(account.home)).toMatchObject({ state: "valid", inDoubt: null });
      } finally {
        await account.cleanup();
      }
    });
  }

  it("SIGTERM before the request left - should release the claim, so the next process refreshes once", async () => {
    const account = await loggedInAccount(server());
    try {
      await waitUntilExpired(account.home);
      const before = server().counters();
      const holder = startHooked(["token", "demo:you"], account.home, "claimed:hang");
      await holder.reached;
      holder.child.kill("SIGTERM");
      const stopped = await holder.done;
      expect(stopped.code, describeExit(stopped)).toBe(128 + constants.signals.SIGTERM);
      expect(await claimFiles(account.home)).toContain("g1-a1.released");
      const next = await token(account.home);
      expect(next.code, describeExit(next)).toBe(0);
      expect(counterDelta(server(), before)).toEqual({ refreshGrants: 1, reuseErrors: 0, tokenRequests: 1 });
    } finally {
      await account.cleanup();
    }
  });
});
