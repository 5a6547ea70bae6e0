/**
 * One GET to a broker with nothing but Node (the `baton token` fast path uses it before any of baton's machinery is
 * loaded; `@baton/adapters/broker-request`): on a unix socket, one exchange written by hand (unix-exchange.ts); over
 * TCP, or with a kept-alive agent, Node's HTTP client (TLS for https; loaded at the first request, not with this
 * module); the client token as a bearer credential, and bounds on every wait — a broker that is down, unreachable or
 * stuck is a retryable problem within seconds, never a hang. Every answer becomes the decoded value or a
 * {@link BrokerProblem} with a message that names the broker's address and never the client token.
 *
 * A connection may name several brokers of one store (BATON_SERVER's list). They are asked in the order given — the
 * one that answered last in this process first, when the connection remembers it — and the next one only while a
 * broker is unreachable: the connection refused, the socket missing, the connection not taken within the connect
 * timeout, the host not resolved, or the connection closed before an answer (every request is a GET, so asking
 * another broker again is safe). Any answer is final, an error document included, and so are a broker that took the
 * request but did not answer within the answer timeout (the total stays bounded), an untrusted certificate and a
 * refused socket permission. When no broker can be reached, the problem names each with its reason.
 */
import type { Agent, ClientRequest, IncomingMessage, RequestOptions } from "node:http";
import type { BrokerAddress } from "./address.ts";
import { exchangeOverUnixSocket } from "./unix-exchange.ts";
import { type BrokerProblem, decodeProblem } from "./wire.ts";

export { type BrokerAddress, type BrokerAddresses, parseBrokerAddress, parseBrokerAddresses } from "./address.ts";
export { type BrokerProblem, decodeHandOut, ERROR_CLASSES, type HandOut, tokenPath } from "./wire.ts";

export interface BrokerTimeouts {
  /** Until the connection is made (TCP connect, or the unix socket accepting). */
  readonly connectMs: number;
  /** Until the whole answer is in, from the request's start (a broker may be refreshing the token meanwhile). */
  readonly answerMs: number;
}

/**
 * A broker that does not take the connection within 3 s is down or unreachable. An answer may wait for a refresh,
 * which the broker itself bounds (it answers "retryable" rather than keep a client longer than about 20 s).
 */
export const DEFAULT_TIMEOUTS: BrokerTimeouts = { connectMs: 3_000, answerMs: 30_000 };

/** One broker a client may ask. */
export interface BrokerEndpoint {
  readonly address: BrokerAddress;
  /** A keep-alive agent for long-running clients (one per address); without one, each request has its own connection. */
  readonly agent?: Agent;
}

/** Which broker of a connection answered last in this process: asked first next time. */
export interface BrokerMemory {
  /** Its address as displayed (`BrokerAddress.display`). */
  last: string | undefined;
}

/** How a client reaches its brokers. */
export interface BrokerConnection {
  /** The brokers of one store, in the order given (at least one). */
  readonly brokers: ReadonlyArray<BrokerEndpoint>;
  /** The bearer client token (`baton serve client add`), when the client has one. */
  readonly token: string | undefined;
  /** The bounds of each broker's exchange. */
  readonly timeouts?: BrokerTimeouts;
  /** Where the broker that answered last is remembered; without it, every request follows the order given. */
  readonly memory?: BrokerMemory;
}

/** An answer names the broker that gave it (its address as written in messages). */
export type BrokerAnswer<A> = { readonly ok: A; readonly from: string } | { readonly problem: BrokerProblem };

/** The brokers of `connection` for a message: one address, or the list. */
export const brokersDisplay = (connection: BrokerConnection): string =>
  connection.brokers.map((broker) => broker.address.display).join(", ");

/** The largest answer a client reads (a hand-out is under 4 KB; a status of many accounts a few hundred KB). */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/** Visible ASCII: what a client token is made of; anything else would corrupt the request or the log. */
const TOKEN_TEXT = /^[\x21-\x7e]{1,512}$/;

const unreachable = (reason: string, message: string): BrokerProblem => ({ class: "unreachable", reason, message });

/** What went wrong on the way, from the error's code only (Node's messages may quote request headers). */
const transportProblem = (where: string, code: string | undefined): BrokerProblem => {
  switch (code) {
    case "ENOENT":
      return unreachable("network", `no broker at ${where}: the socket does not exist (is \`baton serve\` running?)`);
    case "ECONNREFUSED":
      return unreachable("network", `the broker at ${where} refused the connection: is \`baton serve\` running?`);
    case "ECONNRESET":
    case "EPIPE":
    case "ERR_STREAM_PREMATURE_CLOSE":
      return unreachable(
        "network",
        `the broker at ${where} closed the connection before answering (stopped or restarting); try again`,
      );
    case "EACCES":
    case "EPERM":
      return {
        class: "invalid-input",
        reason: "permission",
        message: `permission denied on ${where}: the broker's socket is 0600, for the user that runs \`baton serve\``,
      };
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return unreachable("network", `the broker's host in ${where} cannot be resolved (${code})`);
    default:
      if (code?.startsWith("ERR_TLS") || code?.includes("CERT") || code === "DEPTH_ZERO_SELF_SIGNED_CERT") {
        return {
          class: "invalid-input",
          reason: "tls",
          message: `the TLS certificate of ${where} cannot be trusted (${code}); give its CA in NODE_EXTRA_CA_CERTS`,
        };
      }
      return unreachable("network", `could not reach the broker at ${where} (${code ?? "network error"})`);
  }
};

const errorCode = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined;

class Timeout extends Error {
  constructor(readonly stage: "connect" | "answer") {
    super(stage);
  }
}

/**
 * Node's client for the address, loaded when first needed (the local `baton token` fast path shares this module), as
 * the built-in module itself: an ES import of node:http would build its namespace, whose WebSocket getter loads
 * undici (~6 ms of a process that lives ~40).
 */
const requestFunction = (address: BrokerAddress) =>
  address.kind === "https"
    ? process.getBuiltinModule("node:https").request
    : process.getBuiltinModule("node:http").request;

/** The Host header, given rather than computed: Node's own computation compiles an IPv6 pattern on first use. */
const hostHeader = (address: BrokerAddress): string =>
  address.kind === "unix"
    ? "localhost"
    : `${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}`;

/** What came back: an answer (status, Retry-After, body text), or why none did. */
type Outcome =
  | { readonly status: number; readonly retryAfter: string | undefined; readonly text: string }
  | { readonly error: unknown };

/** The exchange through Node's HTTP client (TCP, TLS, or a kept-alive agent). */
const viaNodeHttp = (
  broker: BrokerEndpoint,
  path: string,
  headers: Readonly<Record<string, string>>,
  timeouts: BrokerTimeouts,
): Promise<Outcome> =>
  new Promise((resolve) => {
    const { address } = broker;
    const options: RequestOptions = {
      method: "GET",
      path,
      headers,
      agent: broker.agent ?? false,
      ...(address.kind === "unix" ? { socketPath: address.path } : { host: address.host, port: address.port }),
    };
    let settled = false;
    let answerTimer: NodeJS.Timeout | undefined;
    const finish = (value: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(answerTimer);
      resolve(value);
    };
    let req: ClientRequest;
    try {
      req = requestFunction(address)(options, (response: IncomingMessage) => {
        const chunks: Array<Buffer> = [];
        let size = 0;
        response.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) response.destroy(new Error("answer too large"));
          else chunks.push(chunk);
        });
        response.on("end", () => {
          const retryAfter = response.headers["retry-after"];
          finish({
            status: response.statusCode ?? 0,
            retryAfter: typeof retryAfter === "string" ? retryAfter : undefined,
            text: Buffer.concat(chunks).toString("utf8"),
          });
        });
        response.on("error", (error) => finish({ error }));
      });
    } catch (error) {
      finish({ error });
      return;
    }
    answerTimer = setTimeout(() => req.destroy(new Timeout("answer")), timeouts.answerMs);
    req.on("socket", (socket) => {
      if (!socket.connecting) return;
      const connectTimer = setTimeout(() => req.destroy(new Timeout("connect")), timeouts.connectMs);
      socket.once("connect", () => clearTimeout(connectTimer));
      socket.once("close", () => clearTimeout(connectTimer));
    });
    req.on("error", (error) => finish({ error }));
    req.end();
  });

/** The exchange written by hand on a unix socket (one request per connection: unix-exchange.ts says why). */
const viaUnixSocket = async (
  socketPath: string,
  path: string,
  headers: Readonly<Record<string, string>>,
  timeouts: BrokerTimeouts,
): Promise<Outcome> => {
  const lines = Object.entries({ ...headers, connection: "close" }).map(([name, value]) => `${name}: ${value}\r\n`);
  try {
    const answer = await exchangeOverUnixSocket(
      socketPath,
      `GET ${path} HTTP/1.1\r\n${lines.join("")}\r\n`,
      { ...timeouts, maxBytes: MAX_ANSWER_BYTES },
      (stage) => new Timeout(stage),
    );
    return { status: answer.status, retryAfter: answer.headers.get("retry-after"), text: answer.body };
  } catch (error) {
    return { error };
  }
};

/** What asking one broker came to: its answer, or a problem on the way and whether the next broker may be asked. */
type Attempt<A> =
  | { readonly answered: true; readonly answer: BrokerAnswer<A> }
  | { readonly answered: false; readonly problem: BrokerProblem; readonly tryNext: boolean };

/** GETs `path` from one broker and decodes a 200 answer's JSON with `decode`. Never rejects. */
const askOne = async <A>(
  broker: BrokerEndpoint,
  token: string | undefined,
  timeouts: BrokerTimeouts,
  path: string,
  decode: (body: unknown) => A | undefined,
): Promise<Attempt<A>> => {
  const { address } = broker;
  const where = address.display;
  const headers: Record<string, string> = {
    host: hostHeader(address),
    accept: "application/json",
    "user-agent": "baton",
  };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const outcome =
    address.kind === "unix" && broker.agent === undefined
      ? await viaUnixSocket(address.path, path, headers, timeouts)
      : await viaNodeHttp(broker, path, headers, timeouts);
  if ("error" in outcome) {
    const { error } = outcome;
    if (error instanceof Timeout) {
      return error.stage === "connect"
        ? {
            answered: false,
            tryNext: true,
            problem: unreachable(
              "network",
              `the broker at ${where} did not take the connection within ${timeouts.connectMs / 1000} s (down or unreachable)`,
            ),
          }
        : {
            answered: false,
            tryNext: false,
            problem: unreachable(
              "network",
              `the broker at ${where} did not answer within ${timeouts.answerMs / 1000} s`,
            ),
          };
    }
    const problem = transportProblem(where, errorCode(error));
    return { answered: false, tryNext: problem.class === "unreachable", problem };
  }
  let body: unknown;
  try {
    body = outcome.text === "" ? undefined : JSON.parse(outcome.text);
  } catch {
    body = undefined;
  }
  if (outcome.status !== 200) {
    const problem = decodeProblem(outcome.status, body, where);
    const retryAfter = Number(outcome.retryAfter);
    return {
      answered: true,
      answer: {
        problem:
          problem.retryAfterMs === undefined && Number.isFinite(retryAfter) && retryAfter > 0
            ? { ...problem, retryAfterMs: retryAfter * 1000 }
            : problem,
      },
    };
  }
  const decoded = decode(body);
  return {
    answered: true,
    answer:
      decoded === undefined
        ? {
            problem: {
              class: "internal",
              reason: "malformed-answer",
              message: `the broker at ${where} answered with a document this baton cannot read (a different version?)`,
            },
          }
        : { ok: decoded, from: where },
  };
};

/** The brokers in the order to ask them: the one that answered last first, then the others as given. */
const askingOrder = (connection: BrokerConnection): ReadonlyArray<BrokerEndpoint> => {
  const last = connection.memory?.last;
  const first = last === undefined ? undefined : connection.brokers.find((broker) => broker.address.display === last);
  return first === undefined ? connection.brokers : [first, ...connection.brokers.filter((broker) => broker !== first)];
};

/**
 * GETs `path` from the connection's brokers — the next one only while one is unreachable — and decodes a 200 answer's
 * JSON with `decode`. Never rejects.
 */
export const askBroker = async <A>(
  connection: BrokerConnection,
  path: string,
  decode: (body: unknown) => A | undefined,
): Promise<BrokerAnswer<A>> => {
  const { token } = connection;
  if (token !== undefined && !TOKEN_TEXT.test(token)) {
    return {
      problem: {
        class: "invalid-input",
        reason: "client-token",
        message:
          "BATON_SERVER_TOKEN holds characters a client token never has (copy it again from `baton serve client add`)",
      },
    };
  }
  const timeouts = connection.timeouts ?? DEFAULT_TIMEOUTS;
  const unreachableOnes: Array<BrokerProblem> = [];
  for (const broker of askingOrder(connection)) {
    const attempt = await askOne(broker, token, timeouts, path, decode);
    if (attempt.answered) {
      if (connection.memory !== undefined) connection.memory.last = broker.address.display;
      return attempt.answer;
    }
    if (!attempt.tryNext) return { problem: attempt.problem };
    unreachableOnes.push(attempt.problem);
  }
  const [only, ...others] = unreachableOnes;
  if (only === undefined) {
    return { problem: { class: "invalid-input", reason: "config", message: "BATON_SERVER names no broker" } };
  }
  if (others.length === 0) return { problem: only };
  return {
    problem: unreachable(
      "network",
      `none of the ${unreachableOnes.length} brokers could be reached: ${unreachableOnes.map((problem) => problem.message).join("; ")}`,
    ),
  };
};
