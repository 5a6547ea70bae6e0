/**
 * `allAccounts`: every account with secrets or events, once, in case-insensitive order (then the exact key), over the
 * in-memory stores.
 */
import { Effect } from "effect";
import { describe, expect, it } from "vitest";
import { accountKey, allAccounts, type Credentials, Memory } from "../src/index.ts";

describe("allAccounts", () => {
  it("allAccounts - given secrets and event streams, should list each account once, case-insensitively sorted", async () => {
    const world = Memory.makeWorld();
    const server = new Memory.SimulatedServer();
    for (const key of ["beta:work", "Alpha:zed", "alpha:b-1", "alpha:B_2", "Beta:home"]) {
      world.secrets.set(key, { generation: 1 } as Credentials);
    }
    for (const key of ["beta:work", "gamma:only-events", "alpha:a"]) world.events.set(key, []);
    const listed = await Effect.runPromise(
      allAccounts.pipe(Effect.provide(Memory.processLayer(world, server, 1, { profiles: [] }))),
    );
    expect(listed.map(accountKey)).toEqual([
      "alpha:a",
      "alpha:b-1",
      "alpha:B_2",
      "Alpha:zed",
      "Beta:home",
      "beta:work",
      "gamma:only-events",
    ]);
  });
});
