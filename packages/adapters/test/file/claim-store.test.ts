/**
 * The file claim store: exclusive claims within a process and across 8 racing processes, the presenting/released
 * markers, and the safe reading of malformed claim files.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Claimant, ClaimStore } from "@baton/core";
import { Effect } from "effect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UNKNOWN_HOST } from "../../src/file/claim-store.ts";
import { account, makeHome, runWith, startChild } from "./helpers.ts";

let home: string;
let cleanup: () => void;
beforeEach(() => {
  ({ home, cleanup } = makeHome());
});
afterEach(() => cleanup());

const claimsDir = () => join(home, "accounts", "github", "work", "claims");
const claimant = (pid: number): Claimant => ({ host: "host-a", pid, at: 1_700_000_000_000 + pid });

describe("file claim store", () => {
  it("claim - should be exclusive for one (generation, attempt)", async () => {
    const results = await runWith(
      home,
      ClaimStore.use((s) =>
        Effect.gen(function* () {
          const first = yield* s.claim(account, 3, 1, claimant(10));
          const second = yield* s.claim(account, 3, 1, claimant(11));
          const otherAttempt = yield* s.claim(account, 3, 2, claimant(12));
          const otherGeneration = yield* s.claim(account, 4, 1, claimant(13));
          return { first, second, otherAttempt, otherGeneration, list: yield* s.list(account, 3) };
        }),
      ),
    );
    expect(results).toMatchObject({ first: true, second: false, otherAttempt: true, otherGeneration: true });
    expect(results.list).toEqual([
      { generation: 3, attempt: 1, claimant: claimant(10), presenting: false, released: undefined },
      { generation: 3, attempt: 2, claimant: claimant(12), presenting: false, released: undefined },
    ]);
    expect(statSync(join(claimsDir(), "g3-a1.claim")).mode & 0o777).toBe(0o600);
    expect(statSync(claimsDir()).mode & 0o777).toBe(0o700);
    expect(readdirSync(claimsDir()).filter((name) => name.startsWith("."))).toEqual([]);
  });

  it("claim - should let exactly one of many concurrent fibers win", async () => {
    const wins = await runWith(
      home,
      ClaimStore.use((s) =>
        Effect.all(
          Array.from({ length: 16 }, (_, i) => s.claim(account, 1, 1, claimant(i))),
          { concurrency: "unbounded" },
        ),
      ),
    );
    expect(wins.filter(Boolean)).toHaveLength(1);
  });

  it("claim - should let exactly one of 8 racing processes win an exclusive create", async () => {
    mkdirSync(claimsDir(), { recursive: true, mode: 0o700 });
    const path = join(claimsDir(), "g1-a1.claim");
    const startAt = String(Date.now() + 400);
    const children = Array.from({ length: 8 }, () => startChild("claim-race.mjs", [path, startAt]));
    const outcomes = await Promise.all(children.map((c) => c.line(/^(won|lost)$/)));
    expect(outcomes.filter((o) => o === "won")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "lost")).toHaveLength(7);
    // The adapter sees the winner's claim and refuses a ninth claimant.
    const [ninth, list] = await runWith(
      home,
      ClaimStore.use((s) => Effect.all([s.claim(account, 1, 1, claimant(99)), s.list(account, 1)])),
    );
    expect(ninth).toBe(false);
    expect(list).toHaveLength(1);
    expect(list[0]?.claimant.host).not.toBe(UNKNOWN_HOST);
  });

  it("claim - should let exactly one of 8 processes racing through the adapter win", async () => {
    const startAt = String(Date.now() + 1500);
    const children = Array.from({ length: 8 }, () =>
      startChild("store-worker.mjs", [home, "claim", "7", "1", startAt]),
    );
    const outcomes = await Promise.all(children.map((c) => c.line(/^(won|lost)$/)));
    expect(outcomes.filter((o) => o === "won")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "lost")).toHaveLength(7);
    const list = await runWith(
      home,
      ClaimStore.use((s) => s.list(account, 7)),
    );
    expect(list).toHaveLength(1);
    expect(list[0]?.claimant.host).toBe("worker");
  });

  it("markPresenting - should round-trip presenting and released through list", async () => {
    const list = await runWith(
      home,
      ClaimStore.use((s) =>
        Effect.gen(function* () {
          yield* s.claim(account, 5, 1, claimant(1));
          yield* s.markPresenting(account, 5, 1);
          yield* s.markPresenting(account, 5, 1);
          yield* s.claim(account, 5, 2, claimant(2));
          yield* s.release(account, 5, 2, "server_error 503");
          yield* s.release(account, 5, 2, "second reason is ignored");
          return yield* s.list(account, 5);
        }),
      ),
    );
    expect(list).toEqual([
      { generation: 5, attempt: 1, claimant: claimant(1), presenting: true, released: undefined },
      { generation: 5, attempt: 2, claimant: claimant(2), presenting: false, released: "server_error 503" },
    ]);
    expect(JSON.parse(readFileSync(join(claimsDir(), "g5-a2.released"), "utf8"))).toEqual({
      reason: "server_error 503",
    });
  });

  it("list - should count a malformed claim as presented by an unknown claimant", async () => {
    mkdirSync(claimsDir(), { recursive: true, mode: 0o700 });
    writeFileSync(join(claimsDir(), "g2-a1.claim"), "{not json", { mode: 0o600 });
    writeFileSync(
      join(claimsDir(), "g2-a2.claim"),
      JSON.stringify({ generation: 9, attempt: 2, claimant: claimant(1) }),
    );
    writeFileSync(join(claimsDir(), "g2-a3.presenting"), "");
    const logs: Array<string> = [];
    const list = await runWith(
      home,
      ClaimStore.use((s) => s.list(account, 2)),
      logs,
    );
    expect(list.map((c) => [c.attempt, c.claimant.host, c.claimant.pid, c.presenting])).toEqual([
      [1, UNKNOWN_HOST, 0, true],
      [2, UNKNOWN_HOST, 0, true],
      [3, UNKNOWN_HOST, 0, true],
    ]);
    expect(list[0]?.claimant.at).toBeGreaterThan(0);
    expect(logs.filter((l) => l.includes("malformed"))).toHaveLength(3);
  });

  it("list - should return nothing for an account without claims", async () => {
    expect(
      await runWith(
        home,
        ClaimStore.use((s) => s.list(account, 1)),
      ),
    ).toEqual([]);
  });
});
