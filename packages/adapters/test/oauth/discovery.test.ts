/**
 * Tests of authorization server metadata discovery: the real local server (OpenID Connect configuration), the RFC
 * 8414 path taking precedence, and the problems a user must be told about by name.
 */

import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { discover } from "../../src/oauth/discovery.ts";
import { failureOf, run, sendJson, startScripted } from "./helpers.ts";

let server: AuthorizationServer;

beforeAll(async () => {
  server = await startAuthorizationServer();
});
afterAll(async () => {
  await server.stop();
});

describe("discovery", () => {
  it("discover - should find the local server's endpoints through OpenID Connect discovery", async () => {
    const found = await run(discover(server.issuer));
    expect(found.issuer).toBe(server.issuer);
    expect(found.metadata).toMatchObject({
      token_endpoint: `${server.issuer}/token`,
      authorization_endpoint: `${server.issuer}/auth`,
      device_authorization_endpoint: `${server.issuer}/device/auth`,
      revocation_endpoint: `${server.issuer}/token/revocation`,
      introspection_endpoint: `${server.issuer}/token/introspection`,
      authorization_response_iss_parameter_supported: true,
    });
    expect(found.metadata.id_token_signing_alg_values_supported).toContain("ES256");
  });

  it("discover - should prefer RFC 8414 metadata when the server publishes it", async () => {
    const scripted = await startScripted((request, response) => {
      if (request.url === "/.well-known/oauth-authorization-server") {
        sendJson(response, 200, { issuer: scripted.origin, token_endpoint: `${scripted.origin}/oauth/token` });
      } else sendJson(response, 404, {});
    });
    try {
      const found = await run(discover(scripted.origin));
      expect(found.metadata).toEqual({ token_endpoint: `${scripted.origin}/oauth/token` });
      expect(scripted.requests.map((r) => r.path)).toEqual(["/.well-known/oauth-authorization-server"]);
    } finally {
      await scripted.stop();
    }
  });

  it("discover - should name an unreachable issuer as a retryable network failure", async () => {
    const scripted = await startScripted(() => undefined);
    await scripted.stop();
    const error = await failureOf(discover(scripted.origin));
    expect(error).toMatchObject({ _tag: "Retryable", reason: "network" });
    expect(error.message).toContain(`could not reach the issuer ${scripted.origin}`);
    expect(error.message).toContain("ECONNREFUSED");
  });

  it("discover - should call an issuer answering 503 where its metadata should be a retryable server error", async () => {
    const scripted = await startScripted((_request, response) => sendJson(response, 503, {}));
    try {
      const error = await failureOf(discover(scripted.origin));
      expect(error).toMatchObject({ _tag: "Retryable", reason: "server-error" });
      expect(error.message).toContain("HTTP 503");
    } finally {
      await scripted.stop();
    }
  });

  it("discover - should report an issuer mismatch with both names", async () => {
    const scripted = await startScripted((_request, response) => {
      sendJson(response, 200, { issuer: "https://evil.example", token_endpoint: "https://evil.example/token" });
    });
    try {
      const error = await failureOf(discover(scripted.origin));
      expect(error.message).toContain("issuer mismatch");
      expect(error.message).toContain("https://evil.example");
      expect(error.message).toContain(scripted.origin);
    } finally {
      await scripted.stop();
    }
  });

  it("discover - should report metadata without a token_endpoint", async () => {
    const scripted = await startScripted((_request, response) => {
      sendJson(response, 200, { issuer: scripted.origin, authorization_endpoint: `${scripted.origin}/auth` });
    });
    try {
      const error = await failureOf(discover(scripted.origin));
      expect(error.message).toContain("no token_endpoint");
    } finally {
      await scripted.stop();
    }
  });

  it("discover - should refuse an endpoint that is not https", async () => {
    const scripted = await startScripted((_request, response) => {
      sendJson(response, 200, { issuer: scripted.origin, token_endpoint: "http://tokens.example/token" });
    });
    try {
      const error = await failureOf(discover(scripted.origin));
      expect(error.message).toContain("token_endpoint that is not https");
    } finally {
      await scripted.stop();
    }
  });

  it("discover - should say when neither well-known document exists", async () => {
    const scripted = await startScripted((_request, response) => {
      response.writeHead(404, { "content-type": "text/html" });
      response.end("<h1>nope</h1>");
    });
    try {
      const error = await failureOf(discover(scripted.origin));
      expect(error.message).toContain("publishes no authorization server metadata");
      expect(error.message).toContain("HTTP 404");
    } finally {
      await scripted.stop();
    }
  });

  it("discover - should refuse a plain-http issuer that is not on loopback", async () => {
    const error = await failureOf(discover("http://example.com"));
    expect(error.message).toContain("https");
  });
});
