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

  it("control API - should lose the child's next token answers after processing them", async () => {
    const server = asServer(standalone);
    const tokens = await signIn(server);
    expect((await control("POST", "counters/reset")).status).toBe(204);
    expect((await control("POST", "lose?count=1&with=504-empty")).status).toBe(204);
    const lost = await refresh(server, tokens.refreshToken);
    expect(lost.status).toBe(504);
    expect(lost.body).toEqual({});

    const again = await signIn(server);
    expect((await control("POST", "lose?count=1&with=drop")).status).toBe(204);
    await expect(refresh(server, again.refreshToken)).rejects.toThrow(TypeError);
    const counters: unknown = await (await control("GET", "counters")).json();
    expect(counters).toMatchObject({ refreshGrants: 2 });

    const refused = await control("POST", "lose?count=1&with=503");
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: "invalid_request" });
    expect((await control("POST", "lose?count=1")).status).toBe(400);
  });

  it("standalone - should lose the first token answers and hide introspection when started so", async () => {
    const child = await spawnStandaloneAuthorizationServer({
      args: [
        "--lose-answers",
        "1",
        "--lose-answer-with",
        "502",
        "--client-introspection",
        "off",
        "--max-lifetime",
        "60",
      ],
    });
    try {
      const server = asServer(child);
      const discovery: unknown = await (await fetch(`${child.issuer}/.well-known/openid-configuration`)).json();
      expect(discovery).not.toHaveProperty("introspection_endpoint");
      const first = await fetch(`${child.issuer}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "refresh_token", client_id: child.clientId, refresh_token: "unknown" }),
      });
      expect(first.status).toBe(502);
      expect(await first.text()).toContain("502 Bad Gateway");
      const tokens = await signIn(server);
      expect(tokens.refreshToken).not.toBe("");
    } finally {
      await child.stop();
    }
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

  it("parseStandaloneOptions - should read lost answers and the introspection switch", () => {
    expect(
      parseStandaloneOptions(["--lose-answers", "2", "--client-introspection", "off"], {
        BATON_DEVSERVER_LOSE_ANSWER_WITH: "drop",
      }),
    ).toEqual({
      server: { clientIntrospection: false },
      maxLifetimeSeconds: 900,
      lostAnswers: { count: 2, answer: { drop: true } },
    });
    expect(parseStandaloneOptions(["--lose-answers", "1"], {}).lostAnswers).toEqual({
      count: 1,
      answer: { status: 502, body: "html" },
    });
    expect(() => parseStandaloneOptions(["--lose-answer-with", "404"], {})).toThrow(/lose-answer-with/);
    expect(() => parseStandaloneOptions(["--client-introspection", "yes"], {})).toThrow(/client-introspection/);
  });

  it("parseStandaloneOptions - should reject malformed numbers and unknown flags", () => {
    expect(() => parseStandaloneOptions(["--access-ttl", "0"], {})).toThrow(/access-ttl/);
    expect(() => parseStandaloneOptions(["--port", "x"], {})).toThrow(/port/);
    expect(() => parseStandaloneOptions(["--bogus", "1"], {})).toThrow();
  });
});
