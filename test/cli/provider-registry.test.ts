/**
 * The provider registry (config.json) under concurrent edits by real `baton` processes against the local
 * authorization server: every edit is serialized across processes and applied to the file as it is at that moment
 * (compare-and-set), so none is lost; an unreachable issuer is a retryable failure (exit 4), not bad input.
 */
import { access, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runBaton, tempHome } from "../support/baton-cli.ts";

let server: AuthorizationServer;
let home: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  server = await startAuthorizationServer();
});
afterAll(async () => {
  await server?.stop();
});
beforeEach(async () => {
  ({ home, cleanup } = await tempHome());
});
afterEach(async () => {
  await cleanup?.();
});

const addArgs = (name: string, issuer = server.issuer) => [
  "provider",
  "add",
  name,
  "--issuer",
  issuer,
  "--client-id",
  server.clientId,
  "--scope",
  server.scopes,
];

const registered = async (): Promise<ReadonlyArray<string>> => {
  const config = JSON.parse(await readFile(join(home, "config.json"), "utf8")) as { providers: object };
  return Object.keys(config.providers).sort();
};

describe("provider add and remove, concurrently", () => {
  it("given 8 `baton provider add` processes started at once, should keep all 8 providers", async () => {
    const names = Array.from({ length: 8 }, (_, i) => `p${i}`);
    const results = await Promise.all(names.map((name) => runBaton(addArgs(name), { home, timeoutMs: 60_000 })));
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    expect(await registered()).toEqual(names);
  });

  it("given `provider add` and `provider remove` of other providers at once, should keep every edit", async () => {
    for (const name of ["base", "r0", "r1"]) expect((await runBaton(addArgs(name), { home })).code).toBe(0);
    const runs = [
      ...["q0", "q1", "q2", "q3"].map((name) => runBaton(addArgs(name), { home, timeoutMs: 60_000 })),
      ...["r0", "r1"].map((name) => runBaton(["provider", "remove", name], { home, timeoutMs: 60_000 })),
    ];
    for (const result of await Promise.all(runs)) expect(result.code, result.stderr).toBe(0);
    expect(await registered()).toEqual(["base", "q0", "q1", "q2", "q3"]);
  });
});

/** A loopback port nothing listens on (bound, then closed). */
const closedPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });

describe("provider add against an issuer it cannot use", () => {
  it("given an issuer that refuses connections, should exit 4 (retryable) and register nothing", async () => {
    const issuer = `http://127.0.0.1:${await closedPort()}`;
    const result = await runBaton(addArgs("down", issuer), { home });
    expect(result.code, result.stderr).toBe(4);
    expect(result.stderr).toContain(`could not reach the issuer ${issuer}`);
    await expect(access(join(home, "config.json"))).rejects.toThrow();
  });

  it("given an issuer that answers without metadata, should exit 2 (invalid input) and register nothing", async () => {
    const issuer = `${server.issuer}/no-such-issuer`;
    const result = await runBaton(addArgs("wrong", issuer), { home });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain("publishes no authorization server metadata");
    await expect(access(join(home, "config.json"))).rejects.toThrow();
  });
});
