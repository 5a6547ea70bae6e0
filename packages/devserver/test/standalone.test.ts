/**
 * Tests of the standalone authorization server process: its address line, its `/_test/` control API, and the three
 * ways it stops (stdin closed, SIGTERM, maximum lifetime).
 */
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  parseStandaloneOptions,
  type StandaloneAuthorizationServer,
  spawnStandaloneAuthorizationServer,
} from "../src/index.ts";
import { refresh, type ServerUnderTest, signIn } from "./oauth-test-client.ts";

let standalone: StandaloneAuthorizationServer;

beforeAll(async () => {
  standalone = await spawnStandaloneAuthorizationServer({ args: ["--access-ttl", "2", "--max-lifetime", "60"] });
});

afterAll(async () => {
  await standalone.stop();
});

/** The fields of a server the test client helpers use. */
function asServer(process: StandaloneAuthorizationServer): ServerUnderTest {
  return { issuer: process.issuer, clientId: process.clientId, scopes: "openid offline_access profile" };
}

async function control(method: "GET" | "POST", path: string): Promise<Response> {
  return fetch(`${standalone.issuer}/_test/${path}`, { method });
}

describe("standalone server", () => {
  it("standalone - should print its issuer, client id and port as one JSON line", () => {
    expect(standalone.issuer).toBe(`http://127.0.0.1:${standalone.port}`);
    expect(standalone.clientId).toBe("baton-demo");
  });

  it("control API - should report counters of flows run against the child process", async () => {
    const server = asServer(standalone);
    expect((await control("POST", "counters/reset")).status).toBe(204);
    const tokens = await signIn(server);
    expect(tokens.expiresIn).toBe(2);
    expect((await refresh(server, tokens.refreshToken)).status).toBe(200);
    expect((await refresh(server, tokens.refreshToken)).status).toBe(400);

    const counters: unknown = await (await control("GET", "counters")).json();
    expect(counters).toMatchObject({ authorizationCodes: 1, refreshGrants: 1, reuseErrors: 1, grantsRevoked: 1 });
  });

  it("control API - should inject faults and latency into the child's token endpoint", async () => {
    const server = asServer(standalone);
    expect((await control("POST", "fail?count=1&status=503&retryAfter=2")).status).toBe(204);
    const faulted = await refresh(server, "not-a-token");
    expect(faulted.status).toBe(503);
    expect(faulted.headers.get("retry-after")).toBe("2");

    expect((await control("POST", "latency?ms=200")).status).toBe(204);
    const started = performance.now();
    await refresh(server, "not-a-token");
    expect(performance.now() - started).toBeGreaterThanOrEqual(200);
    expect((await control("POST", "latency?ms=0")).status).toBe(204);

    expect((await control("POST", "fail?count=1&status=200")).status).toBe(400);
    expect((await control("GET", "nothing-here")).status).toBe(404);
  });

  it("standalone - should exit when its stdin closes, on SIGTERM and after its maximum lifetime", async () => {
    const [byStdin, bySignal, byLifetime] = await Promise.all([
      spawnStandaloneAuthorizationServer(),
      spawnStandaloneAuthorizationServer(),
      spawnStandaloneAuthorizationServer({ args: ["--max-lifetime", "1"] }),
    ]);
    const exits = [byStdin, bySignal, byLifetime].map((server) => once(server.child, "exit"));
    byStdin.child.stdin?.end();
    bySignal.child.kill("SIGTERM");
    const [stdinExit, signalExit, lifetimeExit] = await Promise.all(exits);
    expect(stdinExit).toEqual([0, null]);
    expect(signalExit).toEqual([0, null]);
    expect(lifetimeExit).toEqual([0, null]);
  });
});

describe("parseStandaloneOptions", () => {
  it("parseStandaloneOptions - should prefer flags over environment variables", () => {
    const options = parseStandaloneOptions(["--port", "4100", "--latency", "50"], {
      BATON_DEVSERVER_PORT: "4200",
      BATON_DEVSERVER_ACCESS_TTL: "3",
    });
    expect(options).toEqual({
      server: { port: 4100, latencyMs: 50, accessTokenTtlSeconds: 3 },
      maxLifetimeSeconds: 900,
    });
  });

  it("parseStandaloneOptions - should reject malformed numbers and unknown flags", () => {
    expect(() => parseStandaloneOptions(["--access-ttl", "0"], {})).toThrow(/access-ttl/);
    expect(() => parseStandaloneOptions(["--port", "x"], {})).toThrow(/port/);
    expect(() => parseStandaloneOptions(["--bogus", "1"], {})).toThrow();
  });
});
