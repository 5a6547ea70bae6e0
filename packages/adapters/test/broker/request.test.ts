/**
 * One request to a broker (askBroker) against a small local HTTP server on a unix socket, written by hand and through
 * Node's client with a kept-alive agent: a 200 decoded, an error document turned into its problem (with Retry-After),
 * a proxy's page classed by status, an unreadable 200, a socket nobody listens on, a broker that dies mid-answer, a
 * broker that accepts and never answers or stalls mid-answer (bounded by the answer timeout), and a client token that
 * could corrupt the request. No message ever holds the client token.
 *
 * With several brokers (BATON_SERVER's list), against more real servers on unix sockets and 127.0.0.1: a broker that
 * is not there or closes the connection mid-answer is passed over for the next, any answer of a broker is final (the
 * next one sees no request), none reachable is one problem naming each broker, and the broker that answered last is
 * asked first next time.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseBrokerAddress } from "../../src/broker/address.ts";
import { askBroker, type BrokerConnection, type BrokerMemory } from "../../src/broker/request.ts";
import { decodeHandOut, ERROR_CLASSES } from "../../src/broker/wire.ts";

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
  return { brokers: [{ address: parsed }], token, timeouts: { connectMs: 1_000, answerMs: 500 } };
};

const decodeValue = (body: unknown) =>
  typeof body === "object" && body !== null && "value" in body ? (body.value as number) : undefined;

describe("askBroker", () => {
  it("askBroker - should decode a 200 and send the client token as a bearer credential", async () => {
    expect(await askBroker(connection("baton_abc"), "/ok", decodeValue)).toEqual({ ok: 42, from: `unix:${socket}` });
    expect(seen.at(-1)?.headers.authorization).toBe("Bearer baton_abc");
  });

  it("askBroker - should answer the same through Node's client, with a kept-alive agent", async () => {
    const agent = new Agent({ keepAlive: true });
    try {
      const kept = {
        ...connection("baton_abc"),
        brokers: connection().brokers.map((broker) => ({ ...broker, agent })),
      };
      expect(await askBroker(kept, "/ok", decodeValue)).toEqual({ ok: 42, from: `unix:${socket}` });
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

/** A second real broker stand-in that counts the requests it receives. */
interface Counted {
  readonly address: string;
  readonly requests: () => number;
  readonly close: () => Promise<void>;
}

const countedServer = async (
  listenOn: string | { readonly port: 0; readonly host: "127.0.0.1" },
  own: Record<string, (response: ServerResponse) => void> = {},
): Promise<Counted> => {
  let requests = 0;
  const counted = createServer((request, response) => {
    requests += 1;
    (own[request.url ?? ""] ?? routes[request.url ?? ""])?.(response);
  });
  await new Promise<void>((resolve) => counted.listen(listenOn, resolve));
  const address =
    typeof listenOn === "string" ? `unix:${listenOn}` : `http://127.0.0.1:${(counted.address() as AddressInfo).port}`;
  return {
    address,
    requests: () => requests,
    close: async () => {
      counted.closeAllConnections();
      await new Promise((resolve) => counted.close(resolve));
    },
  };
};

/** A 127.0.0.1 port nobody listens on (taken, then released). */
const closedPort = async (): Promise<string> => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return `http://127.0.0.1:${port}`;
};

const connectionTo = (
  addresses: ReadonlyArray<string>,
  options: { readonly agents?: boolean; readonly memory?: BrokerMemory } = {},
): BrokerConnection => ({
  brokers: addresses.map((text) => {
    const address = parseBrokerAddress(text);
    if ("problem" in address) throw new Error(address.problem);
    return options.agents === true ? { address, agent: new Agent({ keepAlive: true }) } : { address };
  }),
  token: "baton_abc",
  timeouts: { connectMs: 1_000, answerMs: 500 },
  ...(options.memory === undefined ? {} : { memory: options.memory }),
});

routes["/unauthorized"] = (response) => {
  response.writeHead(401, { "content-type": "application/json" });
  response.end(
    JSON.stringify({
      error: { class: "unauthorized", reason: "client-token", message: "unknown token", exit_code: 2 },
    }),
  );
};

describe("askBroker with several brokers", () => {
  const absent = `unix:${join(directory, "absent.sock")}`;
  let second: Counted;
  let tcp: Counted;
  beforeAll(async () => {
    second = await countedServer(join(directory, "second.sock"));
    tcp = await countedServer({ port: 0, host: "127.0.0.1" });
  });
  afterAll(async () => {
    await Promise.all([second?.close(), tcp?.close()]);
  });

  it("askBroker - should ask the next broker when the first is not there, unix and TCP mixed", async () => {
    const refusing = await closedPort();
    expect(await askBroker(connectionTo([absent, second.address]), "/ok", decodeValue)).toEqual({
      ok: 42,
      from: second.address,
    });
    expect(await askBroker(connectionTo([refusing, absent, tcp.address]), "/ok", decodeValue)).toEqual({
      ok: 42,
      from: tcp.address,
    });
    const kept = connectionTo([refusing, second.address], { agents: true });
    try {
      expect(await askBroker(kept, "/ok", decodeValue)).toEqual({ ok: 42, from: second.address });
    } finally {
      for (const broker of kept.brokers) broker.agent?.destroy();
    }
  });

  it("askBroker - should take the first broker's answer as final, a refusal too, and not ask the next", async () => {
    const before = { second: second.requests(), tcp: tcp.requests() };
    expect(
      await askBroker(connectionTo([`unix:${socket}`, second.address, tcp.address]), "/unauthorized", decodeValue),
    ).toEqual({
      problem: { class: "unauthorized", reason: "client-token", message: "unknown token" },
    });
    expect(await askBroker(connectionTo([`unix:${socket}`, tcp.address]), "/refused", decodeValue)).toMatchObject({
      problem: { class: "rate-limited" },
    });
    expect(await askBroker(connectionTo([`unix:${socket}`, second.address]), "/proxy", decodeValue)).toMatchObject({
      problem: { class: "retryable" },
    });
    expect({ second: second.requests(), tcp: tcp.requests() }).toEqual(before);
  });

  it("askBroker - should not ask the next broker after one took the request and never answered (bounded)", async () => {
    const before = second.requests();
    const startedAt = performance.now();
    expect(await askBroker(connectionTo([`unix:${socket}`, second.address]), "/silent", decodeValue)).toMatchObject({
      problem: {
        class: "unreachable",
        message: expect.stringContaining(`the broker at unix:${socket} did not answer`),
      },
    });
    expect(performance.now() - startedAt).toBeLessThan(2_000);
    expect(second.requests()).toBe(before);
  });

  it("askBroker - should name every broker and its reason when none can be reached, as one exit-4 problem", async () => {
    const refusing = await closedPort();
    const answer = await askBroker(connectionTo([absent, refusing]), "/ok", decodeValue);
    if (!("problem" in answer)) throw new Error("a broker answered");
    expect(answer.problem.class).toBe("unreachable");
    expect(ERROR_CLASSES[answer.problem.class].exitCode).toBe(4);
    expect(answer.problem.message).toBe(
      `none of the 2 brokers could be reached: no broker at ${absent}: the socket does not exist (is \`baton serve\` running?); ` +
        `the broker at ${refusing} refused the connection: is \`baton serve\` running?`,
    );
    expect(answer.problem.message).not.toContain("baton_abc");
  });

  it("askBroker - should ask the next broker when the first closes the connection in the middle of its answer", async () => {
    const dying = await countedServer(join(directory, "dying.sock"), {
      "/ok": (response) => routes["/dies"]?.(response),
    });
    try {
      expect(await askBroker(connectionTo([dying.address, tcp.address]), "/ok", decodeValue)).toEqual({
        ok: 42,
        from: tcp.address,
      });
      const kept = connectionTo([dying.address, second.address], { agents: true });
      try {
        expect(await askBroker(kept, "/ok", decodeValue)).toEqual({ ok: 42, from: second.address });
      } finally {
        for (const broker of kept.brokers) broker.agent?.destroy();
      }
      expect(dying.requests()).toBe(2);
    } finally {
      await dying.close();
    }
  });

  it("askBroker - should ask first the broker that answered last, then the others in their order", async () => {
    const later = join(directory, "later.sock");
    const memory: BrokerMemory = { last: undefined };
    const both = connectionTo([`unix:${later}`, second.address], { memory });
    expect(await askBroker(both, "/ok", decodeValue)).toEqual({ ok: 42, from: second.address });
    expect(memory.last).toBe(second.address);
    // The first broker is back, but the one that answered is asked first.
    const first = await countedServer(later);
    try {
      expect(await askBroker(both, "/ok", decodeValue)).toEqual({ ok: 42, from: second.address });
      expect(first.requests()).toBe(0);
      // Until it cannot be reached: then the list in its order again, and the first is remembered.
      const gone = connectionTo([`unix:${later}`, absent], { memory: { last: absent } });
      expect(await askBroker(gone, "/ok", decodeValue)).toEqual({ ok: 42, from: `unix:${later}` });
      expect(first.requests()).toBe(1);
    } finally {
      await first.close();
    }
  });
});
