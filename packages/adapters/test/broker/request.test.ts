/**
 * One request to a broker (askBroker) against a small local HTTP server on a unix socket, written by hand and through
 * Node's client with a kept-alive agent: a 200 decoded, an error document turned into its problem (with Retry-After),
 * a proxy's page classed by status, an unreadable 200, a socket nobody listens on, a broker that dies mid-answer, a
 * broker that accepts and never answers or stalls mid-answer (bounded by the answer timeout), and a client token that
 * could corrupt the request. No message ever holds the client token.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseBrokerAddress } from "../../src/broker/address.ts";
import { askBroker, type BrokerConnection } from "../../src/broker/request.ts";
import { decodeHandOut } from "../../src/broker/wire.ts";

const directory = mkdtempSync(join(tmpdir(), "baton-request-"));
const socket = join(directory, "broker.sock");
const seen: Array<IncomingMessage> = [];
let server: Server;

const routes: Record<string, (response: ServerResponse) => void> = {
  "/ok": (response) => response.end(JSON.stringify({ value: 42 })),
  "/refused": (response) => {
    response.writeHead(429, { "retry-after": "7", "content-type": "application/json" });
    response.end(
      JSON.stringify({ error: { class: "rate-limited", reason: "client-token", message: "too many", exit_code: 4 } }),
    );
  },
  "/proxy": (response) => {
    response.writeHead(502, { "content-type": "text/html" });
    response.end("<html>bad gateway</html>");
  },
  "/garbled": (response) => response.end("{not json"),
  "/silent": () => undefined,
  "/dies": (response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.write('{"value":', () => response.socket?.destroy());
  },
  "/stalled": (response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.write('{"value":');
  },
};

beforeAll(async () => {
  server = createServer((request, response) => {
    seen.push(request);
    routes[request.url ?? ""]?.(response);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(directory, { recursive: true, force: true });
});

const connection = (token?: string, address = `unix:${socket}`): BrokerConnection => {
  const parsed = parseBrokerAddress(address);
  if ("problem" in parsed) throw new Error(parsed.problem);
  return { address: parsed, token, timeouts: { connectMs: 1_000, answerMs: 500 } };
};

const decodeValue = (body: unknown) =>
  typeof body === "object" && body !== null && "value" in body ? (body.value as number) : undefined;

describe("askBroker", () => {
  it("askBroker - should decode a 200 and send the client token as a bearer credential", async () => {
    expect(await askBroker(connection("baton_abc"), "/ok", decodeValue)).toEqual({ ok: 42 });
    expect(seen.at(-1)?.headers.authorization).toBe("Bearer baton_abc");
  });

  it("askBroker - should answer the same through Node's client, with a kept-alive agent", async () => {
    const agent = new Agent({ keepAlive: true });
    try {
      const kept = { ...connection("baton_abc"), agent };
      expect(await askBroker(kept, "/ok", decodeValue)).toEqual({ ok: 42 });
      expect(await askBroker(kept, "/refused", decodeValue)).toMatchObject({
        problem: { class: "rate-limited", retryAfterMs: 7000 },
      });
    } finally {
      agent.destroy();
    }
  });

  it("askBroker - should turn the API's error document into its problem, with Retry-After", async () => {
    expect(await askBroker(connection(), "/refused", decodeValue)).toEqual({
      problem: { class: "rate-limited", reason: "client-token", message: "too many", retryAfterMs: 7000 },
    });
  });

  it("askBroker - should class a proxy's page as retryable and an unreadable 200 as internal", async () => {
    expect(await askBroker(connection(), "/proxy", decodeValue)).toMatchObject({ problem: { class: "retryable" } });
    expect(await askBroker(connection(), "/garbled", decodeValue)).toMatchObject({ problem: { class: "internal" } });
    expect(await askBroker(connection(), "/ok", decodeHandOut)).toMatchObject({ problem: { class: "internal" } });
  });

  it("askBroker - should be unreachable at once for a socket nobody listens on", async () => {
    const answer = await askBroker(connection(undefined, `unix:${join(directory, "absent.sock")}`), "/ok", decodeValue);
    expect(answer).toMatchObject({
      problem: { class: "unreachable", message: expect.stringContaining("the socket does not exist") },
    });
  });

  it("askBroker - should report a broker that goes away in the middle of its answer, at once", async () => {
    const startedAt = performance.now();
    expect(await askBroker(connection(), "/dies", decodeValue)).toMatchObject({
      problem: { class: "unreachable", message: expect.stringContaining("closed the connection before answering") },
    });
    expect(performance.now() - startedAt).toBeLessThan(400);
  });

  it("askBroker - should give up on a broker that never answers within the answer timeout", async () => {
    const startedAt = performance.now();
    const answer = await askBroker(connection(), "/silent", decodeValue);
    expect(answer).toMatchObject({
      problem: { class: "unreachable", message: expect.stringContaining("did not answer") },
    });
    expect(performance.now() - startedAt).toBeLessThan(2_000);
  });

  it("askBroker - should refuse a client token with characters that do not belong in one, without sending it", async () => {
    const before = seen.length;
    const answer = await askBroker(connection("baton_x\r\nx-injected: 1"), "/ok", decodeValue);
    expect(answer).toMatchObject({ problem: { class: "invalid-input", reason: "client-token" } });
    expect(JSON.stringify(answer)).not.toContain("baton_x");
    expect(seen.length).toBe(before);
  });
});
