/**
 * What a refresh answer means, with real `baton` processes against the local authorization server (#14 items 4, 5,
 * 9 and 13):
 *
 * - a 502 that a gateway sends after the server rotated is in doubt, never "not processed": nobody presents the used
 *   token again (before: the claim was released and the next process's presentation revoked the family); introspection
 *   settles it — "no longer active" is a clear login message, "still active" (a gateway that failed before forwarding)
 *   is presented once more and the refresh succeeds;
 * - a machine whose clock is 90 s fast keeps the rotation (before: the ID token check threw the 200 away → in doubt →
 *   revoked), says so, and `status` shows the skew;
 * - 16 processes against a 503 with Retry-After make one presentation, not 16: the wait is recorded in the store;
 * - a forced refresh that did not rotate exits 4 (before: 0 and "now at generation N").
 */
import { describe, expect, it } from "vitest";
import {
  herd,
  loggedInAccount,
  REF,
  readSecretRecord,
  replayOf,
  status,
  token,
  waitUntilExpired,
} from "../support/account.ts";
import { runBaton } from "../support/baton-cli.ts";
import { clockOffsetEnv } from "../support/faketime.ts";
import { counterDelta, describeExit, useLocalServer } from "../support/local-server.ts";

const server = useLocalServer({ accessTokenTtlSeconds: 3 });

describe("gateway errors after the server rotated", () => {
  it("502 after the rotation - should be in doubt, resolved by introspection as rotated, with no reuse", async () => {
    const account = await loggedInAccount(server());
    try {
      await waitUntilExpired(account.home);
      const before = server().counters();
      server().loseNextTokenAnswers(1, { status: 502 });
      const first = await token(account.home);
      expect(first.code, describeExit(first)).toBe(3);
      expect(first.stderr).toContain("no longer active");
      const second = await token(account.home);
      expect(second.code, describeExit(second)).toBe(3);
      expect(counterDelta(server(), before)).toEqual({ refreshGrants: 1, reuseErrors: 0, tokenRequests: 1 });
      const timeline = await replayOf(account.home);
      expect(timeline.events.find((e) => e.type === "refresh.resolved")).toMatchObject({ outcome: "rotated" });
      expect((await readSecretRecord(account.home)).generation).toBe(1);
    } finally {
      await account.cleanup();
    }
  });

  it("502 from a gateway that never forwarded - should find the token still active and refresh once, exit 0", async () => {
    const account = await loggedInAccount(server());
    try {
      await waitUntilExpired(account.home);
      const before = server().counters();
      server().failNextTokenRequests(1, 502);
      const result = await token(account.home);
      expect(result.code, describeExit(result)).toBe(0);
      expect(counterDelta(server(), before)).toEqual({ refreshGrants: 1, reuseErrors: 0, tokenRequests: 2 });
      const timeline = await replayOf(account.home);
      expect(timeline.events.find((e) => e.type === "refresh.resolved")).toMatchObject({ outcome: "not-rotated" });
      expect(await status(account.home)).toMatchObject({ generation: 2, state: "valid" });
    } finally {
      await account.cleanup();
    }
  });
});

describe("a skewed clock", () => {
  it("clock 90 s fast - should keep the rotation, say the clock is off, and show the skew in status", async () => {
    const account = await loggedInAccount(server());
    try {
      await waitUntilExpired(account.home);
      const before = server().counters();
      const result = await token(account.home, REF, { env: clockOffsetEnv(90) });
      expect(result.code, describeExit(result)).toBe(0);
      expect(result.stderr).toMatch(/clock is 9\d s ahead/);
      expect(counterDelta(server(), before)).toEqual({ refreshGrants: 1, reuseErrors: 0, tokenRequests: 1 });
      const now = await status(account.home);
      expect(now.generation).toBe(2);
      expect(now.clockSkewMs).toBeGreaterThan(80_000);
    } finally {
      await account.cleanup();
    }
  });
});

describe("refusals before processing", () => {
  it("16 processes against a 503 with Retry-After - should present once and all exit 4 with the wait", async () => {
    const account = await loggedInAccount(server());
    try {
      await waitUntilExpired(account.home);
      const before = server().counters();
      server().failNextTokenRequests(16, 503, 30);
      const { results } = await herd(account.home, 16);
      expect(counterDelta(server(), before).tokenRequests).toBe(1);
      for (const r of results) {
        expect(r.code, describeExit(r)).toBe(4);
        expect(r.stdout).toBe("");
      }
      expect(results.some((r) => /allowed in \d+ s/.test(r.stderr))).toBe(true);
      expect((await status(account.home)).retryAt).toBeGreaterThan(Date.now());
      server().failNextTokenRequests(0, 503);
    } finally {
      await account.cleanup();
    }
  });

  it("refresh against a 503 - should exit 4 naming the reason, and keep the token", async () => {
    const account = await loggedInAccount(server());
    try {
      server().failNextTokenRequests(1, 503);
      const result = await runBaton(["refresh", REF], { home: account.home });
      expect(result.code, describeExit(result)).toBe(4);
      expect(result.stderr).toContain("503");
      expect(result.stderr).not.toContain("now at generation");
      expect((await readSecretRecord(account.home)).generation).toBe(1);
    } finally {
      await account.cleanup();
    }
  });
});
