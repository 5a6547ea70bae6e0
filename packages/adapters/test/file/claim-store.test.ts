/**
 * What the file claim store adds to the ClaimStore contract (../contract): file modes, exclusive creation across 8
 * racing processes, and the safe reading of malformed claim files.
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Claimant, ClaimStore, type ClaimStoreShape } from "@baton/core";
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

const claim = (s: ClaimStoreShape, generation: number, pid: number) =>
  Effect.scoped(s.acquire(account, generation, { claimant: claimant(pid), refreshFp: undefined }));

describe("file claim store", () => {
  it("acquire - should create 0600 claim files in a 0700 directory and leave no temporary file", async () => {
    await runWith(
      home,
      ClaimStore.use((s) => claim(s, 3, 10)),
    );
    expect(readdirSync(claimsDir())).toEqual(["g3-a1.claim"]);
    expect(statSync(join(claimsDir(), "g3-a1.claim")).mode & 0o777).toBe(0o600);
    expect(statSync(claimsDir()).mode & 0o777).toBe(0o700);
  });

  it("claim - should let exactly one of 8 racing processes win an exclusive create", async () => {
    mkdirSync(claimsDir(), { recursive: true, mode: 0o700 });
    const path = join(claimsDir(), "g1-a1.claim");
    const startAt = String(Date.now() + 400);
    const children = Array.from({ length: 8 }, () => startChild("claim-race.mjs", [path, startAt]));
    const outcomes = await Promise.all(children.map((c) => c.line(/^(won|lost)$/)));
    expect(outcomes.filter((o) => o === "won")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "lost")).toHaveLength(7);
    // The adapter sees the winner's (malformed for it: no JSON claim) file as one claim on attempt 1.
    const list = await runWith(
      home,
      ClaimStore.use((s) => s.list(account, 1)),
    );
    expect(list.map((c) => c.attempt)).toEqual([1]);
  });

  it("acquire - should grant exactly one of 8 processes racing through the adapter", async () => {
    const startAt = String(Date.now() + 1500);
    const children = Array.from({ length: 8 }, () => startChild("store-worker.mjs", [home, "claim", "7", startAt]));
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

  it("list - should count a malformed claim or a marker without its claim as presented by an unknown claimant", async () => {
    mkdirSync(claimsDir(), { recursive: true, mode: 0o700 });
    writeFileSync(join(claimsDir(), "g2-a1.claim"), "{not json", { mode: 0o600 });
    writeFileSync(
      join(claimsDir(), "g2-a2.claim"),
      JSON.stringify({ generation: 9, attempt: 2, claimant: claimant(1) }),
    );
    writeFileSync(join(claimsDir(), "g2-a3.presenting"), "");
    writeFileSync(join(claimsDir(), "g2-a4.rotated"), "");
    const logs: Array<string> = [];
    const list = await runWith(
      home,
      ClaimStore.use((s) => s.list(account, 2)),
      logs,
    );
    expect(list.map((c) => [c.attempt, c.claimant.host, c.claimant.pid, c.presenting, c.rotated])).toEqual([
      [1, UNKNOWN_HOST, 0, true, false],
      [2, UNKNOWN_HOST, 0, true, false],
      [3, UNKNOWN_HOST, 0, true, false],
      [4, UNKNOWN_HOST, 0, true, true],
    ]);
    expect(list[0]?.claimant.at).toBeGreaterThan(0);
    expect(logs.filter((l) => l.includes("malformed"))).toHaveLength(4);
    // An unknown claimant is never free to present again: in flight while recent, then in doubt.
    const judged = await runWith(
      home,
      ClaimStore.use((s) => claim(s, 2, process.pid)),
    );
    expect(judged._tag).toBe("InFlight");
  });
});
