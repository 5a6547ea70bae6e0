/**
 * `baton status` and the event store's fold checkpoints: accounts with long histories (written directly in the
 * file-store format, or made by real refreshes against the test server) report exactly what the full fold reports,
 * whatever happened to the checkpoint; a reader that has closed the pipe ends the command quietly.
 */
import { existsSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { FileEventStore } from "@baton/adapters";
import type { AccountRef, NewAccountEvent } from "@baton/core";
import { startAuthorizationServer } from "@baton/devserver";
import { Effect } from "effect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loggedInAccount } from "../support/account.ts";
import { runBaton, startBaton, tempHome } from "../support/baton-cli.ts";
import { writeAgedAccount } from "../support/cli-session.ts";

let home: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ home, cleanup } = await tempHome());
});
afterEach(() => cleanup());

const aged = (account: string): Parameters<typeof writeAgedAccount>[1] => ({
  ref: { provider: "demo", account },
  issuer: "http://127.0.0.1:9",
  clientId: "cli",
  ageMs: 3_600_000,
  ending: "expired",
});

const appendWaits = (ref: AccountRef, count: number) => {
  const events: Array<NewAccountEvent> = Array.from({ length: count }, (_, i) => ({
    v: 1,
    at: Date.now() - 1_000_000 + i,
    host: hostname(),
    pid: 4242,
    type: "lock.waited",
    waitedMs: i,
  }));
  return Effect.runPromise(FileEventStore.make({ home }, { host: hostname(), pid: 4242 }).append(ref, events));
};

const statusJson = async () => {
  const result = await runBaton(["status", "--json"], { home });
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as { accounts: Array<{ account: string; events: number; state: string }> };
};

describe("baton status", () => {
  it("given an account with a long history, reports the same through its checkpoint as without one", async () => {
    const long: AccountRef = { provider: "demo", account: "long" };
    await writeAgedAccount(home, aged("long"));
    await writeAgedAccount(home, aged("short"));
    // A read writes a checkpoint only where it pays off (256 events past the last one).
    await appendWaits(long, 300);
    const checkpoint = join(home, "accounts", "demo", "long", "events.fold");

    const first = await statusJson();
    expect(first.accounts.map((a) => [a.account, a.events])).toEqual([
      ["demo:long", 301],
      ["demo:short", 1],
    ]);
    expect(existsSync(checkpoint)).toBe(true);
    expect(existsSync(join(home, "accounts", "demo", "short", "events.fold"))).toBe(false);

    // Resumed from the checkpoint: the same document.
    expect(await statusJson()).toEqual(first);
    // A damaged checkpoint is ignored (and rewritten), not an error.
    writeFileSync(checkpoint, `${readFileSync(checkpoint, "utf8").slice(0, 40)}garbage\n`);
    expect(await statusJson()).toEqual(first);
    // Events appended after the checkpoint are folded on top of it.
    await appendWaits(long, 2);
    const after = await statusJson();
    expect(after.accounts[0]?.events).toBe(303);
    expect(after.accounts[0]?.state).toBe(first.accounts[0]?.state);
  });

  it("given nine refreshes, the lock holder has checkpointed the stream, and status agrees with the full fold", async () => {
    const server = await startAuthorizationServer({ accessTokenTtlSeconds: 600 });
    try {
      const account = await loggedInAccount(server);
      try {
        const checkpoint = join(account.home, "accounts", "demo", "you", "events.fold");
        // A login (1 event), then a claim and a store per refresh: the ninth refresh folds 17 events under the lock.
        for (let i = 0; i < 9; i++) {
          const result = await runBaton(["refresh", account.ref], { home: account.home });
          expect(result.code, result.stderr).toBe(0);
        }
        expect(readFileSync(checkpoint, "utf8")).toContain('"events":17');
        const through = await runBaton(["status", "--json"], { home: account.home });
        unlinkSync(checkpoint);
        const without = await runBaton(["status", "--json"], { home: account.home });
        expect(JSON.parse(through.stdout)).toEqual(JSON.parse(without.stdout));
        expect(JSON.parse(through.stdout).accounts[0]).toMatchObject({ generation: 10, events: 19, state: "valid" });
        expect(server.counters().reuseErrors).toBe(0);
      } finally {
        await account.cleanup();
      }
    } finally {
      await server.stop();
    }
  });

  it("given a reader that has closed the pipe, exits 0 without an error", async () => {
    await writeAgedAccount(home, aged("one"));
    const { child, done } = startBaton(["status", "--json"], { home });
    // The read end is closed before baton writes: its write meets EPIPE.
    child.stdout?.destroy();
    const result = await done;
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });
});
