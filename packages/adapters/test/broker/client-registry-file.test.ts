/**
 * The file registry of a broker's home (serve/clients.json), beyond the contract every registry meets
 * (test/contract/client-registry-contract.ts): the file is 0600 in a 0700 directory and holds digests, never tokens;
 * a file that does not decode or is a symbolic link is refused naming it and is never overwritten.
 */
import { createHash } from "node:crypto";
import { readFileSync, statSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { Effect } from "effect";
import { afterEach, describe, expect, it } from "vitest";
import * as Clients from "../../src/broker/client-registry.ts";
import * as ClientRegistryFile from "../../src/broker/client-registry-file.ts";
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

const on =
  (dir: string) =>
  <A, E>(effect: Effect.Effect<A, E, Clients.ClientRegistry>) =>
    Effect.runPromise(Effect.provide(effect, ClientRegistryFile.layer(dir)));
const failureOn =
  (dir: string) =>
  <A, E>(effect: Effect.Effect<A, E, Clients.ClientRegistry>) =>
    Effect.runPromise(Effect.provide(Effect.flip(effect), ClientRegistryFile.layer(dir)));

describe("ClientRegistryFile", () => {
  it("add - should write serve/clients.json with the token's SHA-256 only, 0600 in a 0700 directory", async () => {
    const dir = home();
    const token = await on(dir)(Clients.add("ci", ["demo:you"], 1_000));
    const path = ClientRegistryFile.clientsPath(dir);
    const text = readFileSync(path, "utf8");
    expect(text).not.toContain(token);
    expect(JSON.parse(text)).toEqual({
      version: 1,
      clients: {
        ci: { sha256: createHash("sha256").update(token).digest("hex"), accounts: ["demo:you"], createdAt: 1_000 },
      },
    });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(`${dir}/serve`).mode & 0o777).toBe(0o700);
  });

  it("load - should refuse a registry that does not decode, naming the file, and never overwrite it", async () => {
    const dir = home();
    await on(dir)(Clients.add("ci", [], 1));
    const path = ClientRegistryFile.clientsPath(dir);
    const broken = JSON.stringify({ version: 1, clients: { ci: { sha256: "zz" } } });
    writeFileSync(path, broken);
    expect(await failureOn(dir)(Clients.load)).toMatchObject({
      _tag: "InvalidInput",
      message: expect.stringContaining("clients.json"),
    });
    expect(await failureOn(dir)(Clients.add("other", [], 2))).toMatchObject({ _tag: "InvalidInput" });
    expect(readFileSync(path, "utf8")).toBe(broken);
  });

  it("load - should refuse a symbolic link in place of the file", async () => {
    const dir = home();
    await on(dir)(Clients.add("ci", [], 1));
    const path = ClientRegistryFile.clientsPath(dir);
    const elsewhere = `${dir}/elsewhere.json`;
    writeFileSync(elsewhere, readFileSync(path));
    unlinkSync(path);
    symlinkSync(elsewhere, path);
    expect(await failureOn(dir)(Clients.load)).toMatchObject({
      _tag: "InvalidInput",
      message: expect.stringContaining("symbolic link"),
    });
  });
});
