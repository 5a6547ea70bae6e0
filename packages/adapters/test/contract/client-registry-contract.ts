/**
 * The contract every ClientRegistry adapter must meet (the broker's client tokens: the file of a home, the table of
 * the PostgreSQL store, and the memory double), as a reusable vitest suite: a new token is random, shown once and
 * stored only as its SHA-256; a presented token identifies its client and nothing else does; names are unique and
 * checked, account references too, and a refused change writes nothing; a removed client is no longer identified;
 * and a second instance over the same store — another broker, another process or machine — sees every change at once
 * (brokers sharing a store accept the same clients). Each test gets a fresh store and calls its `cleanup` afterwards.
 */
import { createHash } from "node:crypto";
import { Effect, type Layer } from "effect";
import { describe, expect, it } from "vitest";
import * as Clients from "../../src/broker/client-registry.ts";

export interface ContractRegistry {
  readonly layer: Layer.Layer<Clients.ClientRegistry>;
  /** Another instance over the same store (a second broker). */
  readonly secondInstance: Layer.Layer<Clients.ClientRegistry>;
  readonly cleanup: () => Promise<void>;
}

export const clientRegistryContract = (name: string, makeRegistry: () => Promise<ContractRegistry>) =>
  describe(`ClientRegistry contract: ${name}`, () => {
    const withRegistry = async (body: (registry: ContractRegistry) => Promise<void>) => {
      const registry = await makeRegistry();
      try {
        await body(registry);
      } finally {
        await registry.cleanup();
      }
    };
    const on =
      (layer: Layer.Layer<Clients.ClientRegistry>) =>
      <A, E>(effect: Effect.Effect<A, E, Clients.ClientRegistry>) =>
        Effect.runPromise(Effect.provide(effect, layer));
    const failureOn =
      (layer: Layer.Layer<Clients.ClientRegistry>) =>
      <A, E>(effect: Effect.Effect<A, E, Clients.ClientRegistry>) =>
        Effect.runPromise(Effect.provide(Effect.flip(effect), layer));
    const entries = Clients.ClientRegistry.use((registry) => registry.entries());

    it("add - should return a new random token and store only its SHA-256", () =>
      withRegistry(async ({ layer }) => {
        const run = on(layer);
        const first = await run(Clients.add("ci", [], 1_000));
        const second = await run(Clients.add("laptop", [], 2_000));
        expect(first).toMatch(/^baton_[A-Za-z0-9_-]{43}$/);
        expect(second).not.toBe(first);
        const stored = JSON.stringify(await run(entries));
        expect(stored).not.toContain(first);
        expect(stored).not.toContain(second);
        expect(stored).toContain(createHash("sha256").update(first).digest("hex"));
        expect(await run(Clients.list)).toEqual([
          { name: "ci", accounts: undefined, createdAt: 1_000 },
          { name: "laptop", accounts: undefined, createdAt: 2_000 },
        ]);
      }));

    it("identify - should name the client whose token is presented, and nobody for any other token", () =>
      withRegistry(async ({ layer }) => {
        const run = on(layer);
        const ci = await run(Clients.add("ci", ["demo:you", "demo:you", "github"], 1));
        const laptop = await run(Clients.add("laptop", [], 2));
        const registry = await run(Clients.load);
        expect(Clients.identify(registry, ci)).toEqual({ name: "ci", accounts: ["demo:you", "github"] });
        expect(Clients.identify(registry, laptop)).toEqual({ name: "laptop", accounts: undefined });
        for (const other of [`${ci}x`, ci.slice(0, -1), "", "baton_", laptop.toUpperCase()]) {
          expect(Clients.identify(registry, other)).toBeUndefined();
        }
      }));

    it("add - should refuse a taken name, an invalid name and an invalid account, writing nothing", () =>
      withRegistry(async ({ layer }) => {
        const run = on(layer);
        const failure = failureOn(layer);
        const token = await run(Clients.add("ci", [], 1));
        const before = await run(entries);
        expect(await failure(Clients.add("ci", [], 2))).toMatchObject({
          _tag: "InvalidInput",
          message: expect.stringContaining('a client named "ci" exists'),
        });
        expect(await failure(Clients.add("no spaces", [], 2))).toMatchObject({ _tag: "InvalidInput" });
        expect(await failure(Clients.add("ok", ["a:b:c"], 2))).toMatchObject({
          message: expect.stringContaining("--account"),
        });
        expect(await run(entries)).toEqual(before);
        expect(Clients.identify(await run(Clients.load), token)).toEqual({ name: "ci", accounts: undefined });
      }));

    it("remove - should stop identifying the client; removing an unknown client should be NotFound", () =>
      withRegistry(async ({ layer }) => {
        const run = on(layer);
        const token = await run(Clients.add("ci", [], 1));
        const kept = await run(Clients.add("kept", [], 2));
        expect(Clients.identify(await run(Clients.load), token)).toBeDefined();
        await run(Clients.remove("ci"));
        const registry = await run(Clients.load);
        expect(Clients.identify(registry, token)).toBeUndefined();
        expect(Clients.identify(registry, kept)).toMatchObject({ name: "kept" });
        expect((await run(Clients.list)).map((client) => client.name)).toEqual(["kept"]);
        expect(await failureOn(layer)(Clients.remove("ci"))).toMatchObject({ _tag: "NotFound" });
      }));

    it("add and remove - should apply at once to a second instance over the same store (another broker)", () =>
      withRegistry(async ({ layer, secondInstance }) => {
        const here = on(layer);
        const there = on(secondInstance);
        expect((await there(Clients.load)).clients).toEqual([]);
        const token = await here(Clients.add("ci", ["demo"], 1));
        expect(Clients.identify(await there(Clients.load), token)).toEqual({ name: "ci", accounts: ["demo"] });
        expect(await failureOn(secondInstance)(Clients.add("ci", [], 2))).toMatchObject({ _tag: "InvalidInput" });
        await there(Clients.remove("ci"));
        expect(Clients.identify(await here(Clients.load), token)).toBeUndefined();
      }));

    it("add - should keep every one of 8 concurrent additions from two instances", () =>
      withRegistry(async ({ layer, secondInstance }) => {
        const tokens = await Promise.all(
          Array.from({ length: 8 }, (_, index) =>
            on(index % 2 === 0 ? layer : secondInstance)(Clients.add(`client-${index}`, [], index)),
          ),
        );
        const registry = await on(layer)(Clients.load);
        expect(tokens.map((token) => Clients.identify(registry, token)?.name)).toEqual(
          tokens.map((_, index) => `client-${index}`),
        );
      }));
  });
