/**
 * The broker's HTTP API (serve/api.ts) over a recording fake broker: GET only; health without credentials; a client
 * token required over TCP and optional on the unix socket but checked when given; sources throttled after 20 refusals
 * (429 with Retry-After, good tokens included) until the window passes; each route's parameters exact; problems sent
 * with their class's status; and no answer ever echoing the presented token.
 */
import type { BrokerWire } from "@baton/adapters";
import { beforeEach, describe, expect, it } from "vitest";
import { type ApiRequest, handle } from "../../src/serve/api.ts";
import type { Broker, Caller } from "../../src/serve/broker.ts";
import { FailureLimiter } from "../../src/serve/failure-limiter.ts";

const GOOD = `baton_${"g".repeat(43)}`;
const calls: Array<{ readonly operation: string; readonly caller: string; readonly argument: unknown }> = [];

const handOut: BrokerWire.HandOut = {
  access_token: "at",
  token_type: "Bearer",
  expires_at: "2026-12-04T18:43:00Z",
  expires_in: 60,
  scope: null,
  account: "demo:you",
  generation: 1,
  obtained_at: "2026-12-04T17:43:00Z",
  username: "oauth2",
  cache_until: "2026-12-04T18:42:54Z",
};

const broker: Broker = {
  identify: async (presented) => ({ ok: presented === GOOD ? { name: "ci", accounts: undefined } : undefined }),
  handOut: async (caller: Caller, query) => {
    calls.push({ operation: "handOut", caller: caller.name, argument: query });
    return "account" in query && query.account === "demo:gone"
      ? { problem: { class: "login-required", reason: "revoked", message: "log in again", account: "demo:gone" } }
      : { ok: handOut };
  },
  resolve: async (caller, ref) => {
    calls.push({ operation: "resolve", caller: caller.name, argument: ref });
    return { ok: { account: `${ref}:you` } };
  },
  status: async (caller, ref) => {
    calls.push({ operation: "status", caller: caller.name, argument: ref });
    return { ok: { version: 1, accounts: [] } };
  },
  hosts: async (caller, tool) => {
    calls.push({ operation: "hosts", caller: caller.name, argument: tool });
    return { ok: { hosts: [] } };
  },
  close: async () => undefined,
};

let limiter: FailureLimiter;
beforeEach(() => {
  calls.length = 0;
  limiter = new FailureLimiter();
});

const request = (url: string, overrides: Partial<ApiRequest> = {}): ApiRequest => ({
  method: "GET",
  url,
  authorization: `Bearer ${GOOD}`,
  transport: "tcp",
  source: "10.0.0.9",
  now: 1_000_000,
  ...overrides,
});

const ask = async (url: string, overrides: Partial<ApiRequest> = {}) => {
  const response = await handle(request(url, overrides), broker, limiter);
  return { ...response, json: JSON.parse(response.body) as Record<string, unknown> };
};

describe("the broker's API", () => {
  it("GET /v1/health - should answer without a client token", async () => {
    const health = await ask("/v1/health", { authorization: undefined });
    expect(health).toMatchObject({ status: 200, json: { status: "ok", api: 1 } });
    expect(health.headers["cache-control"]).toBe("no-store");
  });

  it("GET /v1/token - should hand out to a known client, for an account or a mapped host", async () => {
    expect(await ask("/v1/token?account=demo%3Ayou")).toMatchObject({ status: 200, json: handOut });
    expect(await ask("/v1/token?tool=git&host=git.example")).toMatchObject({ status: 200 });
    expect(calls).toEqual([
      { operation: "handOut", caller: "ci", argument: { account: "demo:you" } },
      { operation: "handOut", caller: "ci", argument: { tool: "git", host: "git.example" } },
    ]);
  });

  it("the other routes - should pass their one parameter on", async () => {
    expect((await ask("/v1/account?ref=demo")).json).toEqual({ account: "demo:you" });
    expect((await ask("/v1/status")).status).toBe(200);
    expect((await ask("/v1/status?account=demo%3Ayou")).status).toBe(200);
    expect((await ask("/v1/hosts?tool=docker")).status).toBe(200);
    expect(calls.map((call) => [call.operation, call.argument])).toEqual([
      ["resolve", "demo"],
      ["status", undefined],
      ["status", "demo:you"],
      ["hosts", "docker"],
    ]);
  });

  it("a problem - should be sent with its class's status and exit code", async () => {
    const gone = await ask("/v1/token?account=demo%3Agone");
    expect(gone.status).toBe(409);
    expect(gone.json).toEqual({
      error: {
        class: "login-required",
        reason: "revoked",
        message: "log in again",
        exit_code: 3,
        account: "demo:gone",
      },
    });
  });

  it("over TCP - should refuse a request without a client token, or with a wrong one, as 401 Bearer", async () => {
    for (const authorization of [undefined, "Bearer baton_wrong", "Basic abc", `bearer  ${GOOD}x`]) {
      const refused = await ask("/v1/token?account=demo%3Ayou", { authorization });
      expect(refused.status).toBe(401);
      expect(refused.headers["www-authenticate"]).toBe('Bearer realm="baton"');
      expect(refused.body).not.toContain("baton_wrong");
    }
    expect(calls).toEqual([]);
  });

  it("on the unix socket - should lend without a client token, and still refuse a wrong one", async () => {
    expect(await ask("/v1/token?account=demo%3Ayou", { transport: "unix", authorization: undefined })).toMatchObject({
      status: 200,
    });
    expect(calls.at(-1)?.caller).toBe("@local");
    expect(
      (await ask("/v1/token?account=demo%3Ayou", { transport: "unix", authorization: "Bearer nope" })).status,
    ).toBe(401);
  });

  it("a source refused 20 times - should be answered 429 with Retry-After, good token or not, until the window passes", async () => {
    for (let i = 0; i < 20; i += 1) {
      expect((await ask("/v1/status", { authorization: `Bearer bad${i}`, now: 1_000_000 + i })).status).toBe(401);
    }
    const throttled = await ask("/v1/status", { now: 1_000_100 });
    expect(throttled.status).toBe(429);
    expect(throttled.headers["retry-after"]).toBe("60");
    expect((await ask("/v1/status", { source: "10.0.0.10", now: 1_000_100 })).status).toBe(200);
    expect((await ask("/v1/status", { now: 1_060_001 })).status).toBe(200);
  });

  it("malformed requests - should be 405 for other methods, 404 for unknown paths, 400 for wrong parameters", async () => {
    const post = await ask("/v1/token?account=demo%3Ayou", { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe("GET");
    expect((await ask("/v2/token")).status).toBe(404);
    expect((await ask("/v1/health?x=1")).status).toBe(400);
    for (const url of [
      "/v1/token",
      "/v1/token?account=a&account=b",
      "/v1/token?account=a&tool=git&host=h",
      "/v1/token?tool=svn&host=h",
      "/v1/token?host=h",
      "/v1/token?account=",
      `/v1/token?account=${"a".repeat(600)}`,
      "/v1/account",
      "/v1/hosts",
      "/v1/status?ref=demo",
    ]) {
      expect({ url, status: (await ask(url)).status }).toEqual({ url, status: 400 });
    }
    expect(calls).toEqual([]);
  });
});
