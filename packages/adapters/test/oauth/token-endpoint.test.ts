/**
 * Tests of the TokenEndpoint layer and revocation against the local authorization server: rotation (one grant, a
 * new refresh token), reuse answered `invalid_grant`, injected 503/429 faults, a timeout after the server already
 * rotated (in doubt), connection refused, the I10 issuer/client check, and RFC 7009 revocation checked by RFC 7662
 * introspection.
 */
import { type RefreshRequest, TokenEndpoint } from "@baton/core";
import { type AuthorizationServer, isTokenActive, startAuthorizationServer } from "@baton/devserver";
import { Effect, Layer } from "effect";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { StoredProvider } from "../../src/config/provider-config.ts";
import { addProvider, fileLayer, getProvider } from "../../src/config/provider-registry.ts";
import type { OAuthTarget } from "../../src/oauth/client.ts";
import { discover, targetFor } from "../../src/oauth/discovery.ts";
import { revoke } from "../../src/oauth/revoke.ts";
import { layer, layerFromProviders } from "../../src/oauth/token-endpoint.ts";
import { browserLogin, failureOf, run, sendJson, startScripted, tempHome } from "./helpers.ts";

let server: AuthorizationServer;
let home: string;
let cleanup: () => Promise<void>;
let provider: StoredProvider;
let target: OAuthTarget;

beforeAll(async () => {
  server = await startAuthorizationServer();
  ({ home, cleanup } = await tempHome());
  await run(
    Effect.provide(
      addProvider({ name: "local", issuer: server.issuer, clientId: server.clientId, scope: server.scopes }, (i) =>
        discover(i),
      ),
      fileLayer(home),
    ),
  );
  provider = await run(Effect.provide(getProvider("local"), fileLayer(home)));
  target = await run(targetFor(provider));
});
afterAll(async () => {
  await server.stop();
  await cleanup();
});
beforeEach(() => {
  server.resetCounters();
  server.setLatency(0);
  server.failNextTokenRequests(0, 503);
});

const signIn = async (): Promise<{ readonly refreshToken: string; readonly scope: string | undefined }> => {
  const { tokens } = await browserLogin(server, target);
  if (tokens.refreshToken === undefined) throw new Error("no refresh token from the login");
  server.resetCounters();
  return { refreshToken: tokens.refreshToken, scope: tokens.scope };
};

const request = (
  refreshToken: string,
  scope: string | undefined,
  overrides: Partial<RefreshRequest> = {},
): RefreshRequest => ({
  account: { provider: "local", account: "me" },
  issuer: server.issuer,
  clientId: server.clientId,
  refreshToken,
  scope,
  ...overrides,
});

const refreshWith = (req: RefreshRequest, timeoutMs?: number) =>
  Effect.provide(
    TokenEndpoint.use((endpoint) => endpoint.refresh(req)),
    Layer.provide(layer(timeoutMs === undefined ? {} : { timeoutMs }), fileLayer(home)),
  );

describe("token endpoint", () => {
  it("refresh - should rotate the refresh token with exactly one refresh grant", async () => {
    const { refreshToken, scope } = await signIn();
    const tokens = await run(refreshWith(request(refreshToken, scope)));
    expect(tokens.refreshToken).toBeDefined();
    expect(tokens.refreshToken).not.toBe(refreshToken);
    expect(tokens.tokenType).toBe("Bearer");
    expect(tokens.expiresIn).toBeGreaterThan(0);
    expect(server.counters()).toMatchObject({ refreshGrants: 1, tokenRequests: 1, reuseErrors: 0 });

    const next = await run(refreshWith(request(tokens.refreshToken ?? "", scope)));
    expect(next.refreshToken).not.toBe(tokens.refreshToken);
    expect(server.counters().refreshGrants).toBe(2);
  });

  it("refresh - should classify a reused refresh token as invalid_grant, processed", async () => {
    const { refreshToken, scope } = await signIn();
    await run(refreshWith(request(refreshToken, scope)));
    const error = await failureOf(refreshWith(request(refreshToken, scope)));
    expect(error).toMatchObject({
      _tag: "TokenEndpointFailure",
      reason: "invalid_grant",
      processed: "yes",
      status: 400,
    });
    expect(error.message).not.toContain(refreshToken);
    expect(server.counters().reuseErrors).toBe(1);
  });

  it("refresh - should classify an injected 503 as server_error, not processed, and the token stays good", async () => {
    const { refreshToken, scope } = await signIn();
    server.failNextTokenRequests(1, 503, 2);
    const error = await failureOf(refreshWith(request(refreshToken, scope)));
    expect(error).toMatchObject({ reason: "server_error", processed: "no", status: 503, retryAfterMs: 2000 });
    const tokens = await run(refreshWith(request(refreshToken, scope)));
    expect(tokens.refreshToken).not.toBe(refreshToken);
  });

  it("refresh - should classify 429 as rate_limited with Retry-After in ms", async () => {
    const { refreshToken, scope } = await signIn();
    server.failNextTokenRequests(1, 429, 7);
    const error = await failureOf(refreshWith(request(refreshToken, scope)));
    expect(error).toMatchObject({ reason: "rate_limited", processed: "no", status: 429, retryAfterMs: 7000 });
    expect(server.counters().refreshGrants).toBe(0);
  });

  it("refresh - should report a timeout after sending as in doubt, and the server did rotate", async () => {
    const { refreshToken, scope } = await signIn();
    server.setLatency(1000);
    const error = await failureOf(refreshWith(request(refreshToken, scope), 200));
    expect(error).toMatchObject({ reason: "timeout", processed: "unknown" });
    server.setLatency(0);
    await new Promise((resolve) => setTimeout(resolve, 900));
    expect(server.counters().refreshGrants).toBe(1);
    const reuse = await failureOf(refreshWith(request(refreshToken, scope)));
    expect(reuse).toMatchObject({ reason: "invalid_grant" });
  });

  it("refresh - should refuse to send a token issued by another issuer or to another client (I10)", async () => {
    const wrongIssuer = await failureOf(
      refreshWith(request("some-token", undefined, { issuer: "https://other.example" })),
    );
    expect(wrongIssuer).toMatchObject({ reason: "issuer_mismatch", processed: "no" });
    const wrongClient = await failureOf(refreshWith(request("some-token", undefined, { clientId: "other" })));
    expect(wrongClient).toMatchObject({ reason: "issuer_mismatch", processed: "no" });
    const unknown = await failureOf(
      refreshWith(request("some-token", undefined, { account: { provider: "ghost", account: "me" } })),
    );
    expect(unknown).toMatchObject({ reason: "issuer_mismatch", processed: "no" });
    expect(server.counters().tokenRequests).toBe(0);
  });

  it("refresh - should classify connection refused as network, not processed", async () => {
    const closed = await startScripted(() => undefined);
    await closed.stop();
    const offline: StoredProvider = {
      ...provider,
      name: "offline",
      issuer: closed.origin,
      metadata: { token_endpoint: `${closed.origin}/token` },
    };
    const error = await failureOf(
      Effect.provide(
        TokenEndpoint.use((endpoint) =>
          endpoint.refresh(
            request("rt", undefined, { account: { provider: "offline", account: "a" }, issuer: closed.origin }),
          ),
        ),
        layerFromProviders([offline]),
      ),
    );
    expect(error).toMatchObject({ reason: "network", processed: "no" });
    expect(error.message).toContain("ECONNREFUSED");
  });
});

describe("provider quirks", () => {
  it("refresh - should read GitHub's 200 with error bad_refresh_token as invalid_grant, processed", async () => {
    const scripted = await startScripted((_request, response) =>
      sendJson(response, 200, {
        error: "bad_refresh_token",
        error_description: "The refresh token passed is incorrect",
      }),
    );
    try {
      const github: StoredProvider = {
        name: "gh",
        issuer: scripted.origin,
        clientId: "gh-client",
        graceWindowSeconds: 0,
        deviceOnly: false,
        metadata: { token_endpoint: `${scripted.origin}/token` },
      };
      const error = await failureOf(
        Effect.provide(
          TokenEndpoint.use((endpoint) =>
            endpoint.refresh({
              account: { provider: "gh", account: "a" },
              issuer: scripted.origin,
              clientId: "gh-client",
              refreshToken: "ghr_used-refresh-token-0123456789",
              scope: undefined,
            }),
          ),
          layerFromProviders([github]),
        ),
      );
      expect(error).toMatchObject({ reason: "invalid_grant", processed: "yes", error: "bad_refresh_token" });
    } finally {
      await scripted.stop();
    }
  });
});

describe("client authentication", () => {
  it("refresh - should authenticate a confidential client with HTTP Basic, or in the body when only that is supported", async () => {
    const secret = "client-secret-value-0123456789abcdef";
    const scripted = await startScripted((_request, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ access_token: "at", token_type: "Bearer", refresh_token: "rt2" }));
    });
    try {
      const confidential: StoredProvider = {
        name: "conf",
        issuer: scripted.origin,
        clientId: "conf-client",
        clientSecret: secret,
        graceWindowSeconds: 0,
        deviceOnly: false,
        metadata: { token_endpoint: `${scripted.origin}/token` },
      };
      const postOnly: StoredProvider = {
        ...confidential,
        name: "post",
        metadata: {
          token_endpoint: `${scripted.origin}/token`,
          token_endpoint_auth_methods_supported: ["client_secret_post"],
        },
      };
      const refreshAs = (name: string) =>
        run(
          Effect.provide(
            TokenEndpoint.use((endpoint) =>
              endpoint.refresh({
                account: { provider: name, account: "a" },
                issuer: scripted.origin,
                clientId: "conf-client",
                refreshToken: "rt1",
                scope: undefined,
              }),
            ),
            layerFromProviders([confidential, postOnly]),
          ),
        );
      await refreshAs("conf");
      await refreshAs("post");
      const [basic, post] = scripted.requests;
      // RFC 6749 §2.3.1: id and secret are form-urlencoded before the Basic encoding.
      const basicCredentials = Buffer.from((basic?.authorization ?? "").replace(/^Basic /, ""), "base64").toString();
      expect(basicCredentials.split(":").map(decodeURIComponent)).toEqual(["conf-client", secret]);
      expect(new URLSearchParams(basic?.body).get("client_secret")).toBeNull();
      expect(post?.authorization).toBeUndefined();
      expect(new URLSearchParams(post?.body).get("client_secret")).toBe(secret);
      expect(new URLSearchParams(post?.body).get("grant_type")).toBe("refresh_token");
      expect(new URLSearchParams(post?.body).get("scope")).toBeNull();
    } finally {
      await scripted.stop();
    }
  });
});

describe("revocation", () => {
  it("revoke - should revoke the refresh token so that introspection says inactive", async () => {
    const { refreshToken } = await signIn();
    expect(await isTokenActive(server, refreshToken)).toBe(true);
    const outcome = await run(revoke(target, refreshToken));
    expect(outcome).toEqual({ revoked: true });
    expect(await isTokenActive(server, refreshToken)).toBe(false);
  });

  it("revoke - should say why when the provider has no revocation endpoint", async () => {
    const outcome = await run(
      revoke({ ...target, metadata: { token_endpoint: target.metadata.token_endpoint } }, "rt"),
    );
    expect(outcome.revoked).toBe(false);
    expect(outcome.reason).toContain("no revocation_endpoint");
  });

  it("revoke - should not fail when the server cannot be reached or refuses", async () => {
    const closed = await startScripted(() => undefined);
    await closed.stop();
    const token = "refresh-token-that-must-never-be-shown-0123456789";
    const unreachable = await run(
      revoke(
        {
          issuer: closed.origin,
          clientId: "c",
          metadata: { token_endpoint: `${closed.origin}/t`, revocation_endpoint: `${closed.origin}/r` },
        },
        token,
      ),
    );
    expect(unreachable.revoked).toBe(false);
    expect(unreachable.reason).toContain("ECONNREFUSED");

    const refusing = await startScripted((_request, response) => {
      response.writeHead(400, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: "unsupported_token_type", error_description: `cannot revoke ${token}` }));
    });
    try {
      const refused = await run(
        revoke(
          {
            issuer: refusing.origin,
            clientId: "c",
            metadata: { token_endpoint: `${refusing.origin}/t`, revocation_endpoint: `${refusing.origin}/r` },
          },
          token,
        ),
      );
      expect(refused.revoked).toBe(false);
      expect(refused.reason).toContain("unsupported_token_type");
      expect(refused.reason).not.toContain(token);
      expect(refusing.requests[0]?.body).toContain("token_type_hint=refresh_token");
    } finally {
      await refusing.stop();
    }
  });
});
