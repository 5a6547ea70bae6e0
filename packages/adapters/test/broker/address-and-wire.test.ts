/**
 * The broker's address forms (BATON_SERVER) and the API's documents as a thin client reads them: which addresses are
 * accepted (plain http only on loopback), a list of the brokers of one store (in order; an empty, repeated or bad item
 * named by its position), what a hand-out must hold, and how an error answer — the API's own, or a
 * proxy's page — becomes a problem of the right class.
 */
import { describe, expect, it } from "vitest";
import { isLoopbackHost, parseBrokerAddress, parseBrokerAddresses } from "../../src/broker/address.ts";
import { decodeHandOut, decodeProblem, ERROR_CLASSES, errorDocument, tokenPath } from "../../src/broker/wire.ts";

describe("parseBrokerAddress", () => {
  it("parseBrokerAddress - should accept a unix socket, https with or without a port, and http on loopback", () => {
    expect(parseBrokerAddress("unix:/run/baton/baton.sock")).toEqual({
      kind: "unix",
      path: "/run/baton/baton.sock",
      display: "unix:/run/baton/baton.sock",
    });
    expect(parseBrokerAddress("https://broker.example:8443")).toEqual({
      kind: "https",
      host: "broker.example",
      port: 8443,
      display: "https://broker.example:8443",
    });
    expect(parseBrokerAddress("https://10.0.0.1")).toMatchObject({ kind: "https", host: "10.0.0.1", port: 443 });
    expect(parseBrokerAddress("https://[::1]:8443/")).toMatchObject({ kind: "https", host: "::1", port: 8443 });
    expect(parseBrokerAddress("http://127.0.0.1:9000")).toMatchObject({ kind: "http", host: "127.0.0.1", port: 9000 });
    expect(parseBrokerAddress("http://localhost:9000")).toMatchObject({ kind: "http", host: "localhost" });
  });

  it("parseBrokerAddress - should refuse plain http off loopback, relative sockets, credentials, paths and other schemes", () => {
    const problems = [
      "http://10.0.0.1:9000",
      "http://broker.example",
      "unix:relative.sock",
      "https://user:pass@broker.example",
      "https://broker.example/v1",
      "https://broker.example?x=1",
      "ftp://broker.example",
      "broker.example:8443",
      "",
    ].map((text) => parseBrokerAddress(text, "BATON_SERVER"));
    for (const problem of problems) expect(problem).toHaveProperty("problem", expect.stringMatching(/^BATON_SERVER: /));
    expect(problems[0]).toHaveProperty(
      "problem",
      expect.stringContaining("only for a broker on this machine's loopback"),
    );
  });

  it("parseBrokerAddresses - should read one address as parseBrokerAddress does, as a list of one", () => {
    for (const text of ["unix:/run/baton/baton.sock", "https://broker.example:8443", "http://127.0.0.1:9000"]) {
      expect(parseBrokerAddresses(text)).toEqual([parseBrokerAddress(text)]);
    }
    for (const text of ["http://10.0.0.1:9000", "unix:relative.sock", ""]) {
      expect(parseBrokerAddresses(text, "server")).toEqual(parseBrokerAddress(text, "server"));
    }
  });

  it("parseBrokerAddresses - should read a comma-separated list in its order, unix and TCP mixed, around spaces", () => {
    const parsed = parseBrokerAddresses(
      " https://b1:8443 ,https://b2:8443,\tunix:/run/baton/baton.sock , http://127.0.0.1:9000",
    );
    expect(Array.isArray(parsed) ? parsed.map((address) => address.display) : parsed).toEqual([
      "https://b1:8443",
      "https://b2:8443",
      "unix:/run/baton/baton.sock",
      "http://127.0.0.1:9000",
    ]);
    expect(parseBrokerAddresses("unix:/a.sock,unix:/b.sock")).toMatchObject([
      { kind: "unix", path: "/a.sock" },
      { kind: "unix", path: "/b.sock" },
    ]);
  });

  it("parseBrokerAddresses - should refuse an empty item, a repeated broker and a bad item, naming the item", () => {
    expect(parseBrokerAddresses("https://b1:8443,,https://b2:8443")).toEqual({
      problem: "BATON_SERVER (address 2 of 3): the item is empty; separate the addresses with one comma each",
    });
    expect(parseBrokerAddresses("https://b1:8443,")).toHaveProperty(
      "problem",
      expect.stringMatching(/^BATON_SERVER \(address 2 of 2\): the item is empty/),
    );
    expect(parseBrokerAddresses("https://b1:8443, https://B1:8443/")).toEqual({
      problem: "BATON_SERVER (address 2 of 2): https://b1:8443 is listed twice (also address 1); name each broker once",
    });
    expect(parseBrokerAddresses("https://b1:8443,http://10.0.0.2:9000", "server")).toHaveProperty(
      "problem",
      expect.stringMatching(/^server \(address 2 of 2\): plain http is only for a broker on this machine's loopback/),
    );
    expect(parseBrokerAddresses("unix:/a.sock,b2.example:8443")).toHaveProperty(
      "problem",
      expect.stringMatching(/^BATON_SERVER \(address 2 of 2\): "b2.example:8443" is not a broker address/),
    );
    const withPassword = parseBrokerAddresses("https://b1:8443,https://user:hunter2@b2:8443");
    expect(withPassword).toHaveProperty(
      "problem",
      expect.stringMatching(/^BATON_SERVER \(address 2 of 2\): put no user/),
    );
    expect(JSON.stringify(withPassword)).not.toContain("hunter2");
  });

  it("isLoopbackHost - should know 127/8, ::1 and localhost, and nothing else", () => {
    expect(["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"].every(isLoopbackHost)).toBe(true);
    expect(["10.0.0.1", "128.0.0.1", "localhost.example", "::2", "0.0.0.0"].some(isLoopbackHost)).toBe(false);
  });
});

const handOut = {
  access_token: "at",
  token_type: "Bearer",
  expires_at: "2026-12-04T18:43:00Z",
  expires_in: 3599,
  scope: "openid",
  account: "demo:you",
  generation: 3,
  obtained_at: "2026-12-04T17:43:00Z",
  username: "oauth2",
  cache_until: "2026-12-04T18:42:00Z",
};

describe("the API's documents", () => {
  it("decodeHandOut - should accept a hand-out, a null scope, and keep only its documented fields", () => {
    expect(decodeHandOut({ ...handOut, refresh_token: "never kept" })).toEqual(handOut);
    expect(decodeHandOut({ ...handOut, scope: null })).toEqual({ ...handOut, scope: null });
  });

  it("decodeHandOut - should refuse a document missing or mistyping any field", () => {
    for (const key of Object.keys(handOut)) {
      const { [key]: _dropped, ...rest } = handOut as Record<string, unknown>;
      expect(decodeHandOut(rest)).toBeUndefined();
    }
    expect(decodeHandOut({ ...handOut, access_token: "" })).toBeUndefined();
    expect(decodeHandOut({ ...handOut, generation: 1.5 })).toBeUndefined();
    expect(decodeHandOut({ ...handOut, expires_at: "tomorrow" })).toBeUndefined();
    expect(decodeHandOut([handOut])).toBeUndefined();
  });

  it("decodeProblem - should read the API's error document and keep its class, reason and retry time", () => {
    const document = errorDocument({
      class: "rate-limited",
      reason: "client-token",
      message: "slow down",
      retryAfterMs: 2000,
    });
    expect(document.error.exit_code).toBe(4);
    expect(decodeProblem(429, JSON.parse(JSON.stringify(document)), "unix:/s")).toEqual({
      class: "rate-limited",
      reason: "client-token",
      message: "slow down",
      retryAfterMs: 2000,
    });
  });

  it("decodeProblem - should class another server's answer by its status: 5xx retryable, anything else not a broker", () => {
    expect(decodeProblem(502, undefined, "https://b:1")).toMatchObject({ class: "retryable" });
    expect(decodeProblem(404, { detail: "nope" }, "https://b:1")).toMatchObject({
      class: "invalid-input",
      message: expect.stringContaining("is not baton's broker API"),
    });
  });

  it("ERROR_CLASSES - should give each class the exit code of SPEC §4", () => {
    expect(Object.fromEntries(Object.entries(ERROR_CLASSES).map(([name, entry]) => [name, entry.exitCode]))).toEqual({
      "invalid-request": 2,
      unauthorized: 2,
      forbidden: 2,
      "not-found": 5,
      "login-required": 3,
      "invalid-input": 2,
      "rate-limited": 4,
      internal: 1,
      retryable: 4,
      unreachable: 4,
    });
  });

  it("tokenPath - should encode the account or the tool and host as query parameters", () => {
    expect(tokenPath({ account: "demo:you" })).toBe("/v1/token?account=demo%3Ayou");
    expect(tokenPath({ tool: "git", host: "git.example:8443" })).toBe("/v1/token?tool=git&host=git.example%3A8443");
  });
});
