/**
 * The broker's client tokens (serve/clients.json): a new token is random and shown once, the file holds only its
 * SHA-256 (0600, in a 0700 directory); a presented token identifies its client and nothing else does; a client limited
 * to accounts is allowed exactly those (a bare PROVIDER: all of its accounts); names are unique and checked; a removed
 * client is no longer identified, and a registry another process changed is read again.
 */
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { Effect } from "effect";
import { afterEach, describe, expect, it } from "vitest";
import * as ClientRegistry from "../../src/broker/client-registry.ts";
import { makeHome } from "../file/helpers.ts";

const homes: Array<() => void> = [];
const home = () => {
  const made = makeHome();
  homes.push(made.cleanup);
  return made.home;
};
afterEach(() => {
  for (const cleanup of homes.splice(0)) cleanup();
});

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect);
const failure = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(Effect.flip(effect));

describe("ClientRegistry", () => {
  it("add - should return a new random token and store only its SHA-256, 0600 in a 0700 directory", async () => {
    const dir = home();
    const first = await run(ClientRegistry.add(dir, "ci", [], 1_000));
    const second = await run(ClientRegistry.add(dir, "laptop", [], 2_000));
    expect(first).toMatch(/^baton_[A-Za-z0-9_-]{43}$/);
    expect(second).not.toBe(first);
    const path = ClientRegistry.clientsPath(dir);
    const text = readFileSync(path, "utf8");
    expect(text).not.toContain(first);
    expect(text).toContain(createHash("sha256").update(first).digest("hex"));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(`${dir}/serve`).mode & 0o777).toBe(0o700);
  });

  it("identify - should name the client whose token is presented, and nobody for any other token", async () => {
    const dir = home();
    const ci = await run(ClientRegistry.add(dir, "ci", ["demo:you"], 1));
    const laptop = await run(ClientRegistry.add(dir, "laptop", [], 2));
    const registry = await run(ClientRegistry.load(dir));
    expect(ClientRegistry.identify(registry, ci)).toEqual({ name: "ci", accounts: ["demo:you"] });
    expect(ClientRegistry.identify(registry, laptop)).toEqual({ name: "laptop", accounts: undefined });
    for (const other of [`${ci}x`, ci.slice(0, -1), "", "baton_", laptop.toUpperCase()]) {
      expect(ClientRegistry.identify(registry, other)).toBeUndefined();
    }
  });

  it("allows - should allow exactly the listed accounts, every account of a bare provider, or all when unlimited", () => {
    const limited = { name: "ci", accounts: ["demo:you", "github"] };
    expect(ClientRegistry.allows(limited, { provider: "demo", account: "you" })).toBe(true);
    expect(ClientRegistry.allows(limited, { provider: "demo", account: "other" })).toBe(false);
    expect(ClientRegistry.allows(limited, { provider: "github", account: "any" })).toBe(true);
    expect(ClientRegistry.allows({ name: "all", accounts: undefined }, { provider: "x", account: "y" })).toBe(true);
  });

  it("add - should refuse a taken name, an invalid name and an invalid account, writing nothing", async () => {
    const dir = home();
    await run(ClientRegistry.add(dir, "ci", [], 1));
    const before = readFileSync(ClientRegistry.clientsPath(dir), "utf8");
    expect(await failure(ClientRegistry.add(dir, "ci", [], 2))).toMatchObject({
      _tag: "InvalidInput",
      message: expect.stringContaining('a client named "ci" exists'),
    });
    expect(await failure(ClientRegistry.add(dir, "no spaces", [], 2))).toMatchObject({ _tag: "InvalidInput" });
    expect(await failure(ClientRegistry.add(dir, "ok", ["a:b:c"], 2))).toMatchObject({
      message: expect.stringContaining("--account"),
    });
    expect(readFileSync(ClientRegistry.clientsPath(dir), "utf8")).toBe(before);
  });

  it("remove - should stop identifying the client, also for a registry loaded before", async () => {
    const dir = home();
    const token = await run(ClientRegistry.add(dir, "ci", [], 1));
    expect(ClientRegistry.identify(await run(ClientRegistry.load(dir)), token)).toBeDefined();
    await run(ClientRegistry.remove(dir, "ci"));
    expect(ClientRegistry.identify(await run(ClientRegistry.load(dir)), token)).toBeUndefined();
    expect(await run(ClientRegistry.list(dir))).toEqual([]);
    expect(await failure(ClientRegistry.remove(dir, "ci"))).toMatchObject({ _tag: "NotFound" });
  });

  it("load - should refuse a registry that does not decode, naming the file", async () => {
    const dir = home();
    await run(ClientRegistry.add(dir, "ci", [], 1));
    const { writeFileSync } = await import("node:fs");
    writeFileSync(ClientRegistry.clientsPath(dir), JSON.stringify({ version: 1, clients: { ci: { sha256: "zz" } } }));
    expect(await failure(ClientRegistry.load(dir))).toMatchObject({
      _tag: "InvalidInput",
      message: expect.stringContaining("clients.json"),
    });
  });
});
