/**
 * The HTTP transport under every oauth4webapi call (passed as its `customFetch` option): a fetch-shaped function on
 * `node:http`/`node:https` that knows whether the request left the machine.
 *
 * Why not the global `fetch` or an Effect `HttpClient`: refresh-token rotation makes one question decisive after a
 * failure — could the server have processed the request? If nothing was written (connection refused, DNS, TLS
 * handshake) the claim on the generation can be released; if the request was written and the answer never came
 * (reset, timeout), the outcome is in doubt (SPEC I9). `fetch` hides that behind `TypeError: fetch failed` with
 * undici-specific causes. effect 4.1's `effect/http` HttpClient would be the idiomatic layer, but its only
 * implementation usable here, `FetchHttpClient`, wraps that same global `fetch` (and `@effect/platform-node`'s
 * undici 8 does not load on Node 20, which users still run), and oauth4webapi wants a web `Response` back, so it
 * would add a conversion in both directions without answering the question. This module answers it directly:
 * `sent` becomes true when the whole request has been flushed to the socket (`finish`), and every exchange is
 * recorded (start, connect, send and answer times) in an {@link Exchange} the caller can read after a failure.
 *
 * Each call uses its own connection (`agent: false`): a refresh is rare, and a reused keep-alive socket that the
 * server already closed would turn into an avoidable in-doubt outcome. The whole exchange, body included, is bounded
 * by a timeout (default 30 s) and the body by a size limit (1 MiB); the body is read completely before the
 * `Response` is returned, so a connection reset mid-body is a transport error, not a JSON parse error.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";
import { nodeHttp, nodeHttps } from "./node-http.ts";

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** What happened to one request, for classification and for the refresh log (times in ms since the epoch). */
export interface Exchange {
  startedAt: number | undefined;
  connectedAt: number | undefined;
  /** When the whole request had been written to the socket. */
  sentAt: number | undefined;
  respondedAt: number | undefined;
  status: number | undefined;
}

export const newExchange = (): Exchange => ({
  startedAt: undefined,
  connectedAt: undefined,
  sentAt: undefined,
  respondedAt: undefined,
  status: undefined,
});

export type TransportErrorKind = "refused" | "dns" | "tls" | "reset" | "timeout" | "aborted" | "too_large" | "protocol";

/** A request that got no (complete) answer. `sent` says whether the whole request had been written. */
export class TransportError extends Error {
  override readonly name = "TransportError";
  constructor(
    readonly kind: TransportErrorKind,
    readonly sent: boolean,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface HttpOptions {
  /** Bound on the whole exchange, body included. Default 30 s. */
  readonly timeoutMs?: number;
  readonly maxBodyBytes?: number;
}

/** The `init` oauth4webapi passes to its fetch (see its `CustomFetchOptions`). */
export interface FetchInit {
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  readonly method?: string;
  readonly signal?: AbortSignal;
}

export type OAuthFetch = (url: string, init: FetchInit) => Promise<Response>;

const errorCode = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined;

const DNS_CODES = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NONAME", "EAI_NODATA"]);
const REFUSED_CODES = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENETDOWN",
  "EADDRNOTAVAIL",
]);

/** Classifies a socket error; only the code and a fixed phrase go into the message. */
const fromSocketError = (error: unknown, sent: boolean, host: string): TransportError => {
  if (error instanceof TransportError) return error;
  const code = errorCode(error);
  if (code !== undefined && DNS_CODES.has(code)) {
    return new TransportError("dns", false, `could not resolve ${host} (${code})`, code);
  }
  if (code !== undefined && REFUSED_CODES.has(code)) {
    return new TransportError("refused", false, `could not connect to ${host} (${code})`, code);
  }
  if (code !== undefined && (code.startsWith("ERR_TLS") || code.includes("CERT") || code.startsWith("ERR_SSL"))) {
    return new TransportError("tls", sent, `TLS with ${host} failed (${code})`, code);
  }
  const what = sent ? "after the request was sent" : "before the request was sent";
  return new TransportError("reset", sent, `the connection to ${host} broke ${what} (${code ?? "closed"})`, code);
};

const bodyBytes = (body: unknown): Buffer | undefined => {
  if (body === undefined || body === null) return undefined;
  if (body instanceof URLSearchParams || typeof body === "string") return Buffer.from(body.toString(), "utf8");
  if (body instanceof Uint8Array) return Buffer.from(body);
  throw new TypeError("unsupported request body type");
};

const NULL_BODY_STATUSES = new Set([204, 205, 304]);

/** Touches the global `Headers` and `Response`: Node defines them lazily and loads its undici on first access. */
const loadFetchClasses = (): void => {
  if (typeof Headers !== "function" || typeof Response !== "function") {
    throw new Error("this Node.js has no Fetch API classes (Headers, Response); baton needs Node 20 or later");
  }
};

const toResponse = (message: IncomingMessage, body: Buffer): Response => {
  const headers = new Headers();
  const raw = message.rawHeaders;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    try {
      headers.append(raw[index]!, raw[index + 1]!);
    } catch {
      // A header the Fetch API cannot represent is dropped; oauth4webapi only reads standard ones.
    }
  }
  const status = message.statusCode ?? 0;
  const content = NULL_BODY_STATUSES.has(status) ? null : new Uint8Array(body);
  return new Response(content, { status, statusText: message.statusMessage ?? "", headers });
};

/**
 * Loads what a process's first token request needs — `node:http`, `node:https` and the Fetch API classes oauth4webapi
 * builds requests and answers with (Node's undici) — ahead of time: ~25–40 ms of module loading that would otherwise
 * sit on the critical path of the first refresh a process makes while holding the account lock. A long-running host
 * calls it once it has started (the facade does, right after its prefetch).
 */
export const preloadTransport = (): void => {
  nodeHttp();
  nodeHttps();
  loadFetchClasses();
};

/** A fetch for oauth4webapi that records `exchange` and throws {@link TransportError}s. */
export const makeFetch =
  (options: HttpOptions = {}, exchange: Exchange = newExchange()): OAuthFetch =>
  (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const target = new URL(url);
      const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
      const payload = bodyBytes(init.body);
      const headers: OutgoingHttpHeaders = { ...init.headers };
      if (payload !== undefined) headers["content-length"] = String(payload.length);
      let sent = false;
      let settled = false;
      exchange.startedAt = Date.now();

      const request = (target.protocol === "https:" ? nodeHttps().request : nodeHttp().request)(target, {
        method: init.method ?? "GET",
        headers,
        agent: false,
      });
      const finish = (outcome: { readonly response: Response } | { readonly error: TransportError }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        init.signal?.removeEventListener("abort", onAbort);
        if ("response" in outcome) resolve(outcome.response);
        else {
          reject(outcome.error);
          request.destroy();
        }
      };
      const fail = (error: unknown): void => finish({ error: fromSocketError(error, sent, target.host) });
      request.on("error", fail);
      const timer = setTimeout(() => {
        const when = sent ? "after the request was sent" : "before the request was sent";
        fail(new TransportError("timeout", sent, `no answer from ${target.host} within ${timeoutMs} ms (${when})`));
      }, timeoutMs);
      const onAbort = (): void =>
        fail(new TransportError("aborted", sent, `the request to ${target.host} was aborted`));
      if (init.signal?.aborted === true) {
        onAbort();
        return;
      }
      init.signal?.addEventListener("abort", onAbort, { once: true });

      request.on("socket", (socket) => {
        socket.once(target.protocol === "https:" ? "secureConnect" : "connect", () => {
          exchange.connectedAt = Date.now();
        });
      });
      request.on("finish", () => {
        sent = true;
        exchange.sentAt = Date.now();
        // While the server works on the request, load what building the answer's `Response` needs (Node's undici,
        // ~10–20 ms on the first answer of a process) instead of after the answer, on the refresh's critical path.
        setImmediate(loadFetchClasses);
      });
      request.on("response", (message) => {
        exchange.respondedAt = Date.now();
        exchange.status = message.statusCode;
        // A response before the request was fully written still means the server saw (part of) it.
        sent = true;
        const chunks: Array<Buffer> = [];
        let size = 0;
        message.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBody) {
            fail(new TransportError("too_large", true, `the answer from ${target.host} exceeds ${maxBody} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        message.on("aborted", () =>
          fail(new TransportError("reset", true, `the answer from ${target.host} was cut off`)),
        );
        message.on("error", fail);
        message.on("end", () => {
          if (!message.complete) {
            fail(new TransportError("reset", true, `the answer from ${target.host} was cut off`));
            return;
          }
          try {
            finish({ response: toResponse(message, Buffer.concat(chunks)) });
          } catch {
            fail(
              new TransportError(
                "protocol",
                true,
                `the answer from ${target.host} is not valid HTTP (status ${message.statusCode})`,
              ),
            );
          }
        });
      });
      request.end(payload);
    });
