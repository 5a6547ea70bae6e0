/**
 * The local authorization server's provider-behaviour modes, each against the default (strict) server so that every
 * test could fail: no metadata document (GitHub), refresh tokens that do not rotate (Google), a reuse grace window
 * (Okta, Auth0), the previous access token revoked by a refresh (GitLab), a confidential client.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AuthorizationServer,
  approveAuthorization,
  isTokenActive,
  type ProviderBehaviour,
  startAuthorizationServer,
} from "../src/index.ts";
import {
  authorizationUrl,
  createPkce,
  postForm,
  refresh,
  signIn,
  stringField,
  tokensFrom,
} from "./oauth-test-client.ts";

const servers: Array<AuthorizationServer> = [];
const start = async (behaviour?: ProviderBehaviour) => {
  const server = await startAuthorizationServer({ accessTokenTtlSeconds: 600, ...(behaviour ? { behaviour } : {}) });
  servers.push(server);
  return server;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let strict: AuthorizationServer;

beforeAll(async () => {
  strict = await start();
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
});

describe("discovery: false", () => {
  it("discovery off - should answer 404 for the metadata documents and still issue and refresh tokens", async () => {
    const server = await start({ discovery: false });
    for (const path of ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]) {
      expect((await fetch(`${server.issuer}${path}`)).status).toBe(404);
    }
    expect((await fetch(`${strict.issuer}/.well-known/openid-configuration`)).status).toBe(200);
    const tokens = await signIn(server);
    expect((await refresh(server, tokens.refreshToken)).status).toBe(200);
  });
});

describe("rotation", () => {
  it("rotation none - should keep the refresh token valid and answer without a new one", async () => {
    const server = await start({ rotation: "none" });
    const tokens = await signIn(server);
    for (let i = 0; i < 3; i++) {
      const answer = await refresh(server, tokens.refreshToken);
      expect(answer.status).toBe(200);
      expect(answer.body.refresh_token).toBeUndefined();
      expect(typeof answer.body.access_token).toBe("string");
    }
    expect(server.counters()).toMatchObject({ refreshGrants: 3, reuseErrors: 0, grantsRevoked: 0 });
  });

  it("strict (default) - should take a second presentation as reuse and revoke the family", async () => {
    const tokens = await signIn(strict);
    const first = await refresh(strict, tokens.refreshToken);
    expect(first.status).toBe(200);
    expect((await refresh(strict, tokens.refreshToken)).status).toBe(400);
    expect((await refresh(strict, stringField(first.body, "refresh_token"))).status).toBe(400);
  });

  it("rotation grace - should accept a rotated token again inside the window, and take it as reuse after it", async () => {
    const server = await start({ rotation: "grace", graceWindowSeconds: 1 });
    const tokens = await signIn(server);
    const first = await refresh(server, tokens.refreshToken);
    expect(first.status).toBe(200);
    const retry = await refresh(server, tokens.refreshToken);
    expect(retry.status).toBe(200);
    expect(stringField(retry.body, "refresh_token")).not.toBe(stringField(first.body, "refresh_token"));
    await sleep(1300);
    expect((await refresh(server, tokens.refreshToken)).status).toBe(400);
    expect(server.counters().reuseErrors).toBe(1);
  });
});

describe("revokeAccessTokenOnRefresh", () => {
  it("should make the previous access token inactive once a refresh answered (and the default leaves it active)", async () => {
    const server = await start({ revokeAccessTokenOnRefresh: true });
    const tokens = await signIn(server);
    expect(await isTokenActive(server, tokens.accessToken)).toBe(true);
    const next = await refresh(server, tokens.refreshToken);
    expect(await isTokenActive(server, tokens.accessToken)).toBe(false);
    expect(await isTokenActive(server, stringField(next.body, "access_token"))).toBe(true);

    const plain = await signIn(strict);
    expect((await refresh(strict, plain.refreshToken)).status).toBe(200);
    expect(await isTokenActive(strict, plain.accessToken)).toBe(true);
  });
});

describe("clientSecret", () => {
  it("should make the client confidential: refused without its secret, served with HTTP Basic", async () => {
    const secret = randomBytes(24).toString("base64url");
    const server = await start({ clientSecret: secret });
    const basic = { authorization: `Basic ${Buffer.from(`${server.clientId}:${secret}`).toString("base64")}` };
    const pkce = createPkce();
    const redirectUri = "http://127.0.0.1:49152/callback";
    const callback = new URL(await approveAuthorization(authorizationUrl(server, pkce, "s", redirectUri)));
    const exchange = {
      grant_type: "authorization_code",
      code: callback.searchParams.get("code") ?? "",
      code_verifier: pkce.verifier,
      redirect_uri: redirectUri,
    };
    const tokens = tokensFrom(await postForm(`${server.issuer}/token`, exchange, basic));
    const refreshGrant = { grant_type: "refresh_token", refresh_token: tokens.refreshToken };
    const refused = await postForm(`${server.issuer}/token`, { ...refreshGrant, client_id: server.clientId });
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe("invalid_client");
    expect((await postForm(`${server.issuer}/token`, refreshGrant, basic)).status).toBe(200);
  });

  it("should refuse a grace window without rotation grace, and a short secret", async () => {
    await expect(start({ rotation: "strict", graceWindowSeconds: 5 })).rejects.toThrow(RangeError);
    await expect(start({ rotation: "grace" })).rejects.toThrow(RangeError);
    await expect(start({ clientSecret: "short" })).rejects.toThrow(RangeError);
  });
});
