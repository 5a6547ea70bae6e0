/**
 * The broker's listener: Node's http (unix socket, loopback TCP) or https server, hardened against clients that
 * would hold it up. Headers must arrive within 5 s and a whole request within 10 s (checked every second), a
 * TLS handshake within 5 s, an idle keep-alive connection is closed after 5 s and any silent socket after 30 s;
 * headers are limited to 8 KB and connections to `maxConnections` (beyond that, new ones are closed at once). A request
 * that HTTP cannot parse is answered 400 (408 when it was too slow, 431 when its headers were too large) and its
 * connection closed.
 *
 * `close` stops accepting, lets the requests in progress finish for up to `graceMs` (a refresh on the wire is stored
 * before its answer goes out), then closes whatever is left; the unix socket file is removed.
 */

import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import type { ApiRequest, ApiResponse } from "./api.ts";
import type { ListenPlan } from "./listen.ts";

export const LIMITS = {
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  handshakeTimeoutMs: 5_000,
  keepAliveTimeoutMs: 5_000,
  idleSocketMs: 30_000,
  checkIntervalMs: 1_000,
  maxHeaderBytes: 8 * 1024,
} as const;

export interface RunningServer {
  /** The TCP port listened on (0 for a unix socket). */
  readonly port: number;
  /** Stops accepting and ends the connections, waiting up to `graceMs` for requests in progress. */
  readonly close: (graceMs: number) => Promise<void>;
}

export type Handler = (request: ApiRequest) => Promise<ApiResponse>;

const REASONS = { 400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large" } as const;

const clientErrorAnswer = (status: keyof typeof REASONS, message: string): string => {
  const body = JSON.stringify({
    error: { class: "invalid-request", reason: "http", message, exit_code: 2 },
  });
  return (
    `HTTP/1.1 ${status} ${REASONS[status]}\r\nconnection: close\r\n` +
    `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
};

export const startServer = async (
  plan: ListenPlan,
  maxConnections: number,
  handler: Handler,
): Promise<RunningServer> => {
  const options = {
    headersTimeout: LIMITS.headersTimeoutMs,
    requestTimeout: LIMITS.requestTimeoutMs,
    keepAliveTimeout: LIMITS.keepAliveTimeoutMs,
    connectionsCheckingInterval: LIMITS.checkIntervalMs,
    maxHeaderSize: LIMITS.maxHeaderBytes,
  };
  const server: Server =
    plan.kind === "tcp" && plan.tls !== undefined
      ? createHttpsServer({
          ...options,
          cert: plan.tls.cert,
          key: plan.tls.key,
          minVersion: "TLSv1.2",
          handshakeTimeout: LIMITS.handshakeTimeoutMs,
        })
      : createHttpServer(options);
  server.maxConnections = maxConnections;
  server.setTimeout(LIMITS.idleSocketMs, (socket: Socket) => socket.destroy());
  const transport = plan.kind === "unix" ? "unix" : "tcp";
  let inFlight = 0;
  let drained: (() => void) | undefined;

  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    inFlight += 1;
    const source = transport === "unix" ? "unix" : (request.socket.remoteAddress ?? "unknown");
    const header = request.headers.authorization;
    handler({
      method: request.method ?? "",
      url: request.url ?? "",
      authorization: typeof header === "string" ? header : undefined,
      transport,
      source,
      now: Date.now(),
    })
      .then(
        (answer) => {
          if (response.destroyed) return;
          response.writeHead(answer.status, { ...answer.headers, "content-length": Buffer.byteLength(answer.body) });
          response.end(answer.body);
        },
        () => {
          if (!response.destroyed) response.destroy();
        },
      )
      .finally(() => {
        inFlight -= 1;
        if (inFlight === 0) drained?.();
      });
    // A GET has no body; whatever a client sends is read and dropped, not buffered.
    request.resume();
  });
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || error.code === "ECONNRESET") {
      socket.destroy();
      return;
    }
    socket.end(
      error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? clientErrorAnswer(408, "the request did not arrive in time")
        : error.code === "HPE_HEADER_OVERFLOW"
          ? clientErrorAnswer(431, `the request's headers are larger than ${LIMITS.maxHeaderBytes} bytes`)
          : clientErrorAnswer(400, "malformed HTTP request"),
    );
  });
  // TLS clients that fail the handshake only cost their socket.
  server.on("tlsClientError", (_error: Error, socket: Socket) => socket.destroy());

  const previousUmask = plan.kind === "unix" ? process.umask(0o177) : undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      if (plan.kind === "unix") server.listen(plan.path, () => resolve());
      else server.listen(plan.port, plan.host, () => resolve());
    });
  } finally {
    if (previousUmask !== undefined) process.umask(previousUmask);
  }
  const socketInode = plan.kind === "unix" ? lstatSync(plan.path).ino : undefined;
  if (plan.kind === "unix") chmodSync(plan.path, 0o600);
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;

  const close = async (graceMs: number): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    if (inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    server.closeAllConnections();
    await closed;
    if (plan.kind === "unix") {
      // Only the socket this server made: a newer broker may already listen on the path.
      const current = (() => {
        try {
          return lstatSync(plan.path);
        } catch {
          return undefined;
        }
      })();
      if (current?.isSocket() === true && current.ino === socketInode) unlinkSync(plan.path);
    }
  };
  return { port, close };
};
