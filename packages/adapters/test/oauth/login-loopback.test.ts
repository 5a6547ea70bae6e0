/**
 * Tests of the browser login (authorization code + PKCE S256, loopback redirect) driven headlessly against the
 * local authorization server: the happy path, a tampered state, a wrong RFC 9207 issuer, an authorization error,
 * the timeout, and the listener being closed afterwards in every case.
 */
import { networkInterfaces } from "node:os";
import { type AuthorizationServer, approveAuthorization, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { OAuthTarget } from "../../src/oauth/client.ts";
import { type Listening, login } from "../../src/oauth/login-loopback.ts";
import { browserLogin, canConnect, devserverTarget, failureOf, run } from "./helpers.ts";

let server: AuthorizationServer;
let target: OAuthTarget;

beforeAll(async () => {
  server = await startAuthorizationServer();
  target = await devserverTarget(server);
});
afterAll(async () => {
  await server.stop();
});
beforeEach(() => {
  server.resetCounters();
});

/** Answers the authorization request as the user, then delivers `rewrite(callback)` to the listener. */
const deliverRewritten = async (url: string, rewrite: (callback: URL) => void): Promise<number> => {
  const callback = new URL(await approveAuthorization(url));
  rewrite(callback);
  const response = await fetch(callback, { redirect: "manual" });
  await response.text();
  return response.status;
};

describe("loopback login", () => {
  it("login - should sign in with PKCE S256 through a 127.0.0.1 loopback redirect and close the listener", async () => {
    let listening: Listening | undefined;
    let approval: Promise<string> | undefined;
    let elsewhere: Promise<boolean> | undefined;
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address !== undefined && !address.internal && address.family === "IPv4")?.address;
    const result = await run(
      login({
        target,
        scope: server.scopes,
        openBrowser: false,
        timeoutMs: 20_000,
        onListening: (info) => {
          listening = info;
          if (external !== undefined) elsewhere = canConnect(info.port, external);
        },
        onUrl: (url) => {
          approval = approveAuthorization(url, { deliver: true });
        },
      }),
    );
    await approval;
    expect(result.tokens.accessToken.length).toBeGreaterThan(10);
    expect(result.tokens.refreshToken).toBeDefined();
    expect(result.tokens.tokenType).toBe("Bearer");
    expect(result.tokens.scope?.split(" ")).toContain("openid");
    expect(result.idTokenClaims).toMatchObject({ iss: server.issuer, aud: server.clientId });

    const url = new URL(listening?.authorizationUrl ?? "");
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.searchParams.get("redirect_uri")).toBe(`http://127.0.0.1:${listening?.port}/callback`);
    expect(url.searchParams.get("state")?.length).toBeGreaterThan(20);
    expect(server.counters().authorizationCodes).toBe(1);
    expect(await canConnect(listening?.port ?? 0)).toBe(false);
    expect(await elsewhere).not.toBe(true); // not reachable on a non-loopback interface while it listened
  });

  it("login - should return tokens usable by a helper that logs in repeatedly", async () => {
    const first = await browserLogin(server, target);
    const second = await browserLogin(server, target);
    expect(first.tokens.refreshToken).not.toBe(second.tokens.refreshToken);
  });

  it("login - should reject a callback whose state differs and show a failure page", async () => {
    let port = 0;
    let status: Promise<number> | undefined;
    const error = await failureOf(
      login({
        target,
        scope: server.scopes,
        openBrowser: false,
        timeoutMs: 20_000,
        onListening: (info) => {
          port = info.port;
        },
        onUrl: (url) => {
          status = deliverRewritten(url, (callback) => callback.searchParams.set("state", "forged-state"));
        },
      }),
    );
    expect(error).toMatchObject({ _tag: "LoginFailed", reason: "state_mismatch" });
    expect(await status).toBe(400);
    expect(server.counters().authorizationCodes).toBe(1);
    expect(await canConnect(port)).toBe(false);
  });

  it("login - should reject a callback whose RFC 9207 iss names another issuer", async () => {
    let port = 0;
    let status: Promise<number> | undefined;
    const error = await failureOf(
      login({
        target,
        scope: server.scopes,
        openBrowser: false,
        timeoutMs: 20_000,
        onListening: (info) => {
          port = info.port;
        },
        onUrl: (url) => {
          status = deliverRewritten(url, (callback) => callback.searchParams.set("iss", "https://evil.example"));
        },
      }),
    );
    expect(error).toMatchObject({ _tag: "LoginFailed", reason: "issuer_mismatch" });
    expect(error.message).toContain("https://evil.example");
    expect(await status).toBe(400);
    expect(await canConnect(port)).toBe(false);
  });

  it("login - should reject a callback without iss when the server advertises RFC 9207", async () => {
    let status: Promise<number> | undefined;
    const error = await failureOf(
      login({
        target,
        scope: server.scopes,
        openBrowser: false,
        timeoutMs: 20_000,
        onUrl: (url) => {
          status = deliverRewritten(url, (callback) => callback.searchParams.delete("iss"));
        },
      }),
    );
    expect(error).toMatchObject({ _tag: "LoginFailed", reason: "issuer_mismatch" });
    expect(await status).toBe(400);
  });

  it("login - should report an error answer (access_denied) with its sanitized description", async () => {
    let status: Promise<number> | undefined;
    const error = await failureOf(
      login({
        target,
        scope: server.scopes,
        openBrowser: false,
        timeoutMs: 20_000,
        onUrl: (url) => {
          status = deliverRewritten(url, (callback) => {
            callback.searchParams.delete("code");
            callback.searchParams.set("error", "access_denied");
            callback.searchParams.set("error_description", "the user said no\u001b[31m");
          });
        },
      }),
    );
    expect(error).toMatchObject({ _tag: "LoginFailed", reason: "access_denied", error: "access_denied" });
    expect(error.message).toContain("the user said no");
    expect(error.message).not.toContain("\u001b");
    expect(await status).toBe(400);
  });

  it("login - should time out with a clear error and close the listener", async () => {
    let port = 0;
    const error = await failureOf(
      login({
        target,
        openBrowser: false,
        timeoutMs: 300,
        onListening: (info) => {
          port = info.port;
        },
      }),
    );
    expect(error).toMatchObject({ _tag: "LoginFailed", reason: "timeout" });
    expect(error.message).toContain("no answer from the browser");
    expect(port).toBeGreaterThan(0);
    expect(await canConnect(port)).toBe(false);
  });

  it("login - should answer 404 on other paths while waiting, without consuming the callback", async () => {
    let approval: Promise<string> | undefined;
    let stray: Promise<number> | undefined;
    const result = await run(
      login({
        target,
        scope: server.scopes,
        openBrowser: false,
        timeoutMs: 20_000,
        onListening: (info) => {
          stray = fetch(`http://127.0.0.1:${info.port}/favicon.ico`).then(async (r) => {
            await r.text();
            return r.status;
          });
        },
        onUrl: (url) => {
          approval = (async () => {
            await stray;
            return approveAuthorization(url, { deliver: true });
          })();
        },
      }),
    );
    await approval;
    expect(await stray).toBe(404);
    expect(result.tokens.accessToken.length).toBeGreaterThan(0);
  });
});
