/**
 * Tests of baton's local authorization server: the real oidc-provider flows driven with plain fetch and the headless
 * user (authorization code + PKCE, device flow), refresh-token rotation and reuse detection, revocation and
 * introspection (by the public client itself, and switched off), token lifetimes, the counters and the latency/fault
 * switches, including answers lost after the server rotated.
 */
import { createServer } from "node:http";
import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type AuthorizationServer,
  approveAuthorization,
  HeadlessUserError,
  isTokenActive,
  type LostAnswer,
  NEIGHBOUR_CLIENT_ID,
  parseLostAnswer,
  startAuthorizationServer,
} from "../src/index.ts";
import {
  authorizationUrl,
  createPkce,
  discover,
  postForm,
  refresh,
  signIn,
  stringField,
  tokensFrom,
} from "./oauth-test-client.ts";

const EPHEMERAL_CALLBACK = "http://127.0.0.1:51234/callback";

let server: AuthorizationServer;

beforeAll(async () => {
  server = await startAuthorizationServer();
});

afterAll(async () => {
  await server.stop();
});

beforeEach(() => {
  server.resetCounters();
  server.setLatency(0);
  server.failNextTokenRequests(0, 503);
});

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("authorization code flow", () => {
  it("authorization code flow - should issue access and refresh tokens with iss in the redirect", async () => {
    const pkce = createPkce();
    const callback = new URL(await approveAuthorization(authorizationUrl(server, pkce, "state-1", EPHEMERAL_CALLBACK)));

    expect(`${callback.origin}${callback.pathname}`).toBe(EPHEMERAL_CALLBACK);
    expect(callback.searchParams.get("state")).toBe("state-1");
    expect(callback.searchParams.get("iss")).toBe(server.issuer);
    const code = callback.searchParams.get("code");
    expect(code).toEqual(expect.any(String));

    const response = await postForm(`${server.issuer}/token`, {
      grant_type: "authorization_code",
      client_id: server.clientId,
      code: code ?? "",
      code_verifier: pkce.verifier,
      redirect_uri: EPHEMERAL_CALLBACK,
    });
    const tokens = tokensFrom(response);
    expect(tokens.accessToken).not.toBe("");
    expect(tokens.refreshToken).not.toBe("");
    expect(tokens.expiresIn).toBe(6);
    expect(response.body.token_type).toBe("Bearer");
    // oidc-provider drops offline_access from the grant unless prompt=consent is sent (OpenID Connect Core 11); the
    // server issues the refresh token anyway.
    expect(stringField(response.body, "scope").split(" ")).toContain("openid");
    expect(server.counters()).toMatchObject({ authorizationCodes: 1, tokenRequests: 1, refreshGrants: 0 });
  });

  it("token endpoint - should refuse a code exchange with the wrong PKCE verifier", async () => {
    const callback = new URL(
      await approveAuthorization(authorizationUrl(server, createPkce(), "s", EPHEMERAL_CALLBACK)),
    );
    const response = await postForm(`${server.issuer}/token`, {
      grant_type: "authorization_code",
      client_id: server.clientId,
      code: callback.searchParams.get("code") ?? "",
      code_verifier: createPkce().verifier,
      redirect_uri: EPHEMERAL_CALLBACK,
    });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe("invalid_grant");
  });

  it("authorization request - should redirect with invalid_request when PKCE is missing", async () => {
    const callback = new URL(await approveAuthorization(authorizationUrl(server, undefined, "s", EPHEMERAL_CALLBACK)));
    expect(callback.searchParams.get("error")).toBe("invalid_request");
    expect(callback.searchParams.get("code")).toBeNull();
    expect(callback.searchParams.get("iss")).toBe(server.issuer);
  });

  it("authorization request - should refuse a redirect URI off the registered loopback path", async () => {
    const url = authorizationUrl(server, createPkce(), "s", "http://127.0.0.1:51234/elsewhere");
    await expect(approveAuthorization(url)).rejects.toThrow(HeadlessUserError);
    await expect(approveAuthorization(url)).rejects.toThrow(/redirect_uri/);
  });

  it("approveAuthorization - should deliver the callback to the client when asked", async () => {
    const received: string[] = [];
    const callbackServer = createServer((request, response) => {
      received.push(request.url ?? "");
      response.end("signed in");
    });
    await new Promise<void>((resolve) => callbackServer.listen(0, "127.0.0.1", resolve));
    const address = callbackServer.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    try {
      const redirectUri = `http://127.0.0.1:${port}/callback`;
      const finalUrl = await approveAuthorization(authorizationUrl(server, createPkce(), "s", redirectUri), {
        deliver: true,
      });
      expect(received).toHaveLength(1);
      expect(new URL(received[0] ?? "", redirectUri).href).toBe(finalUrl);
      expect(new URL(finalUrl).searchParams.get("code")).toEqual(expect.any(String));
    } finally {
      callbackServer.closeAllConnections();
      await new Promise((resolve) => callbackServer.close(resolve));
    }
  });

  it("discovery - should advertise S256, the iss parameter and the device, revocation and introspection endpoints", async () => {
    const metadata = await discover(server);
    expect(metadata).toMatchObject({
      issuer: server.issuer,
      code_challenge_methods_supported: ["S256"],
      authorization_response_iss_parameter_supported: true,
      device_authorization_endpoint: `${server.issuer}/device/auth`,
      revocation_endpoint: `${server.issuer}/token/revocation`,
      introspection_endpoint: `${server.issuer}/token/introspection`,
    });
  });
});

describe("refresh", () => {
  it("refresh - should rotate the refresh token and count the grant", async () => {
    const first = await signIn(server);
    const rotated = tokensFrom(await refresh(server, first.refreshToken));

    expect(rotated.refreshToken).not.toBe(first.refreshToken);
    expect(rotated.accessToken).not.toBe(first.accessToken);
    expect(server.counters()).toMatchObject({ refreshGrants: 1, reuseErrors: 0, grantsRevoked: 0 });
    expect(tokensFrom(await refresh(server, rotated.refreshToken)).refreshToken).not.toBe(rotated.refreshToken);
    expect(server.counters().refreshGrants).toBe(2);
  });

  it("refresh - should answer invalid_grant to a reused token and revoke the whole family", async () => {
    const first = await signIn(server);
    const rotated = tokensFrom(await refresh(server, first.refreshToken));

    const reuse = await refresh(server, first.refreshToken);
    expect(reuse.status).toBe(400);
    expect(reuse.body.error).toBe("invalid_grant");
    expect(server.counters()).toMatchObject({ refreshGrants: 1, reuseErrors: 1, grantsRevoked: 1 });

    const newest = await refresh(server, rotated.refreshToken);
    expect(newest.status).toBe(400);
    expect(newest.body.error).toBe("invalid_grant");
    expect(await isTokenActive(server, rotated.accessToken)).toBe(false);
    expect(server.counters()).toMatchObject({ refreshGrants: 1, reuseErrors: 2, grantsRevoked: 1 });
  });

  it("refresh - should let exactly one of five concurrent refreshes with one token win, then revoke it", async () => {
    const tokens = await signIn(server);
    const answers = await Promise.all(Array.from({ length: 5 }, () => refresh(server, tokens.refreshToken)));

    const winners = answers.filter((answer) => answer.status === 200);
    expect(winners).toHaveLength(1);
    expect(answers.filter((answer) => answer.body.error === "invalid_grant")).toHaveLength(4);
    const winner = tokensFrom(winners[0] ?? answers[0] ?? { status: 0, headers: new Headers(), body: {} });
    expect((await refresh(server, winner.refreshToken)).status).toBe(400);
    expect(server.counters()).toMatchObject({ refreshGrants: 1, reuseErrors: 5, grantsRevoked: 1 });
  });
});

describe("revocation and introspection", () => {
  it("revocation - should make introspection report the refresh and access tokens inactive", async () => {
    const tokens = await signIn(server);
    const ownIntrospection = await postForm(`${server.issuer}/token/introspection`, {
      token: tokens.accessToken,
      client_id: server.clientId,
    });
    expect(ownIntrospection.body).toMatchObject({ active: true, client_id: server.clientId, sub: "demo-user" });
    expect(await isTokenActive(server, tokens.refreshToken)).toBe(true);

    const revocation = await postForm(`${server.issuer}/token/revocation`, {
      token: tokens.refreshToken,
      token_type_hint: "refresh_token",
      client_id: server.clientId,
    });
    expect(revocation.status).toBe(200);
    expect(await isTokenActive(server, tokens.refreshToken)).toBe(false);
    expect(await isTokenActive(server, tokens.accessToken)).toBe(false);
    expect((await refresh(server, tokens.refreshToken)).body.error).toBe("invalid_grant");
    expect(server.counters().grantsRevoked).toBe(1);
  });
});

/** The public client introspects `token` with its client_id alone, as baton does (RFC 7662, auth method none). */
function introspectAsClient(target: AuthorizationServer, token: string, clientId = target.clientId) {
  return postForm(`${target.issuer}/token/introspection`, { token, client_id: clientId });
}

describe("introspection by the public client", () => {
  it("introspection - should show the public client its refresh token active, then inactive once it rotated", async () => {
    const first = await signIn(server);
    const before = await introspectAsClient(server, first.refreshToken);
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ active: true, client_id: server.clientId, sub: "demo-user" });

    const rotated = tokensFrom(await refresh(server, first.refreshToken));
    expect((await introspectAsClient(server, first.refreshToken)).body).toEqual({ active: false });
    expect((await introspectAsClient(server, rotated.refreshToken)).body).toMatchObject({ active: true });
  });

  it("introspection - should report another client's token inactive, and tell nothing about it", async () => {
    const neighbours = await signIn({ ...server, clientId: NEIGHBOUR_CLIENT_ID });
    expect((await introspectAsClient(server, neighbours.refreshToken, NEIGHBOUR_CLIENT_ID)).body).toMatchObject({
      active: true,
      client_id: NEIGHBOUR_CLIENT_ID,
    });

    const asOther = await introspectAsClient(server, neighbours.refreshToken);
    expect(asOther.status).toBe(200);
    expect(asOther.body).toEqual({ active: false });
    expect((await introspectAsClient(server, neighbours.accessToken)).body).toEqual({ active: false });
  });

  it("discovery - should not advertise introspection, and the endpoint should answer the public client 404, when it is off", async () => {
    const withoutIntrospection = await startAuthorizationServer({ clientIntrospection: false });
    try {
      const metadata = await discover(withoutIntrospection);
      expect(metadata).not.toHaveProperty("introspection_endpoint");
      expect(metadata).toHaveProperty("revocation_endpoint");
      const tokens = await signIn(withoutIntrospection);
      const answer = await fetch(`${withoutIntrospection.issuer}/token/introspection`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: tokens.refreshToken, client_id: withoutIntrospection.clientId }),
      });
      expect(answer.status).toBe(404);
      expect(await answer.text()).toBe("Not Found");
      // The test's own referee, the confidential introspector, still works.
      expect(await isTokenActive(withoutIntrospection, tokens.refreshToken)).toBe(true);
    } finally {
      await withoutIntrospection.stop();
    }
  });

  it("startAuthorizationServer - should refuse a client id that another client of the server has", async () => {
    await expect(startAuthorizationServer({ clientId: NEIGHBOUR_CLIENT_ID })).rejects.toThrow(/clientId/);
  });
});

/** A refresh whose answer may not be JSON (a gateway's page) or may never come (a dropped connection). */
function rawRefresh(target: AuthorizationServer, refreshToken: string): Promise<Response> {
  return fetch(`${target.issuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams({ grant_type: "refresh_token", client_id: target.clientId, refresh_token: refreshToken }),
  });
}

describe("answers lost after processing", () => {
  const gatewayAnswers: ReadonlyArray<{ readonly answer: LostAnswer; readonly status: number; readonly text: RegExp }> =
    [
      { answer: { status: 502 }, status: 502, text: /<title>502 Bad Gateway<\/title>/ },
      { answer: { status: 504, body: "html" }, status: 504, text: /<h1>504 Gateway Time-out<\/h1>/ },
      { answer: { status: 500, body: "empty" }, status: 500, text: /^$/ },
    ];

  it.each(gatewayAnswers)(
    "loseNextTokenAnswers($answer) - should rotate at the server and answer like a gateway",
    async ({ answer, status, text }) => {
      const tokens = await signIn(server);
      server.resetCounters();
      server.loseNextTokenAnswers(1, answer);

      const lost = await rawRefresh(server, tokens.refreshToken);
      expect(lost.status).toBe(status);
      if (text.source !== "^$") expect(lost.headers.get("content-type")).toMatch(/^text\/html/);
      expect(lost.headers.get("cache-control")).toBeNull();
      const body = await lost.text();
      expect(body).toMatch(text);
      expect(body).not.toContain("refresh_token");
      // The rotation is committed: the presented token is consumed and a successor was issued.
      expect(await isTokenActive(server, tokens.refreshToken)).toBe(false);
      expect(server.counters()).toMatchObject({ tokenRequests: 1, refreshGrants: 1, reuseErrors: 0 });
      // Presenting it again is reuse: the whole family is revoked, which is what an in-doubt refresh must avoid.
      expect((await refresh(server, tokens.refreshToken)).body.error).toBe("invalid_grant");
      expect(server.counters()).toMatchObject({ reuseErrors: 1, grantsRevoked: 1 });
    },
  );

  it("loseNextTokenAnswers({ drop: true }) - should rotate at the server and close the connection without an answer", async () => {
    const tokens = await signIn(server);
    server.resetCounters();
    server.loseNextTokenAnswers(1, { drop: true });

    await expect(rawRefresh(server, tokens.refreshToken)).rejects.toThrow(TypeError);
    expect(await isTokenActive(server, tokens.refreshToken)).toBe(false);
    expect(server.counters()).toMatchObject({ tokenRequests: 1, refreshGrants: 1 });
  });

  it("loseNextTokenAnswers - should lose only the next count answers, after the latency, then answer normally", async () => {
    const tokens = await signIn(server);
    server.resetCounters();
    server.setLatency(150);
    server.loseNextTokenAnswers(1, { status: 502 });

    const started = performance.now();
    expect((await rawRefresh(server, tokens.refreshToken)).status).toBe(502);
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    const other = await signIn(server);
    expect(tokensFrom(await refresh(server, other.refreshToken)).refreshToken).not.toBe(other.refreshToken);
    expect(server.counters()).toMatchObject({ refreshGrants: 2 });
  });

  it("failNextTokenRequests - should replace pending lost answers, and the reverse", async () => {
    const tokens = await signIn(server);
    server.loseNextTokenAnswers(3, { drop: true });
    server.failNextTokenRequests(1, 503);
    expect((await refresh(server, tokens.refreshToken)).status).toBe(503);
    const rotated = tokensFrom(await refresh(server, tokens.refreshToken));

    const other = await signIn(server);
    server.failNextTokenRequests(3, 503);
    server.loseNextTokenAnswers(1, { status: 504 });
    expect((await rawRefresh(server, other.refreshToken)).status).toBe(504);
    expect(await isTokenActive(server, other.refreshToken)).toBe(false);
    expect((await refresh(server, rotated.refreshToken)).status).toBe(200);
  });

  it("parseLostAnswer - should read the short forms and refuse a status a gateway would not answer with", () => {
    expect(parseLostAnswer("502")).toEqual({ status: 502, body: "html" });
    expect(parseLostAnswer("500-empty")).toEqual({ status: 500, body: "empty" });
    expect(parseLostAnswer("drop")).toEqual({ drop: true });
    expect(() => parseLostAnswer("503")).toThrow(/500, 502, 504/);
    expect(() => server.loseNextTokenAnswers(-1, { drop: true })).toThrow(/count/);
  });
});

describe("test switches", () => {
  it("setLatency - should delay token answers by at least the latency", async () => {
    const tokens = await signIn(server);
    server.setLatency(250);
    const started = performance.now();
    tokensFrom(await refresh(server, tokens.refreshToken));
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
  });

  it("failNextTokenRequests - should answer 503 with Retry-After without processing or rotating", async () => {
    const tokens = await signIn(server);
    server.resetCounters();
    server.failNextTokenRequests(2, 503, 3);

    for (let attempt = 0; attempt < 2; attempt += 1) {
      const answer = await refresh(server, tokens.refreshToken);
      expect(answer.status).toBe(503);
      expect(answer.headers.get("retry-after")).toBe("3");
      expect(answer.body.error).toBe("temporarily_unavailable");
    }
    const afterFaults = await refresh(server, tokens.refreshToken);
    expect(afterFaults.status).toBe(200);
    expect(server.counters()).toMatchObject({ tokenRequests: 3, refreshGrants: 1, reuseErrors: 0 });
  });

  it("failNextTokenRequests - should answer 429 without Retry-After when none is given", async () => {
    server.failNextTokenRequests(1, 429);
    const answer = await refresh(server, "not-a-token");
    expect(answer.status).toBe(429);
    expect(answer.headers.get("retry-after")).toBeNull();
    expect((await refresh(server, "not-a-token")).status).toBe(400);
  });
});

describe("access token lifetime", () => {
  it("access token - should expire after its TTL", async () => {
    const shortLived = await startAuthorizationServer({ accessTokenTtlSeconds: 1 });
    try {
      const tokens = await signIn(shortLived);
      expect(tokens.expiresIn).toBe(1);
      expect(await isTokenActive(shortLived, tokens.accessToken)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect(await isTokenActive(shortLived, tokens.accessToken)).toBe(false);
      const userinfo = await fetch(`${shortLived.issuer}/me`, {
        headers: { authorization: `Bearer ${tokens.accessToken}` },
      });
      expect(userinfo.status).toBe(401);
      expect(tokensFrom(await refresh(shortLived, tokens.refreshToken)).expiresIn).toBe(1);
    } finally {
      await shortLived.stop();
    }
  });
});

describe("listener", () => {
  it("startAuthorizationServer - should listen on 127.0.0.1 only", async () => {
    expect(server.issuer).toBe(`http://127.0.0.1:${server.port}`);
    expect(await canConnect("127.0.0.1", server.port)).toBe(true);
    expect(await canConnect("127.0.0.2", server.port)).toBe(false);
    const externalAddresses = Object.values(networkInterfaces())
      .flatMap((entries) => entries ?? [])
      .filter((entry) => !entry.internal && entry.family === "IPv4")
      .map((entry) => entry.address);
    for (const address of externalAddresses) expect(await canConnect(address, server.port)).toBe(false);
  });

  it("stop - should close open connections and pending answers promptly and free the port", async () => {
    const local = await startAuthorizationServer();
    const idleSocket = connect({ host: "127.0.0.1", port: local.port });
    await new Promise((resolve) => idleSocket.once("connect", resolve));
    const socketClosed = new Promise((resolve) => idleSocket.once("close", resolve));
    local.setLatency(10_000);
    const pendingAnswer = refresh(local, "not-a-token").catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 100));

    const started = performance.now();
    await local.stop();
    expect(performance.now() - started).toBeLessThan(1000);
    await socketClosed;
    await pendingAnswer;
    expect(await canConnect("127.0.0.1", local.port)).toBe(false);

    const again = await startAuthorizationServer({ port: local.port });
    expect(again.port).toBe(local.port);
    await again.stop();
  });
});
