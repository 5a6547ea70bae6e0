/**
 * Shared pieces of the OAuth and config tests: temporary BATON_HOMEs, running effects, a scripted HTTP server on
 * 127.0.0.1 (for answers the real authorization server would never give), a headless browser login against the
 * devserver, and a port probe.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuthorizationServer, approveAuthorization } from "@baton/devserver";
import { Cause, Effect, Exit } from "effect";
import type { OAuthTarget } from "../../src/oauth/client.ts";
import { discover } from "../../src/oauth/discovery.ts";
import type { LoginResult } from "../../src/oauth/grant.ts";
import { login } from "../../src/oauth/login-loopback.ts";

export const tempHome = async (): Promise<{ readonly home: string; readonly cleanup: () => Promise<void> }> => {
  const base = await mkdtemp(join(tmpdir(), "baton-oauth-test-"));
  return { home: join(base, "home"), cleanup: () => rm(base, { recursive: true, force: true }) };
};

export const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect);

/** Runs `effect` and returns its typed failure; fails the test on success or on a defect. */
export const failureOf = async <A, E>(effect: Effect.Effect<A, E>): Promise<E> => {
  const exit = await Effect.runPromiseExit(effect);
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success");
  const failure = exit.cause.reasons.find(Cause.isFailReason);
  if (failure === undefined) throw new Error(`expected a typed failure, got: ${Cause.pretty(exit.cause)}`);
  return failure.error;
};

export interface ScriptedServer {
  readonly origin: string;
  readonly port: number;
  readonly requests: Array<{
    readonly method: string;
    readonly path: string;
    readonly body: string;
    readonly authorization: string | undefined;
  }>;
  stop(): Promise<void>;
}

export type Script = (request: IncomingMessage, response: ServerResponse, body: string) => void;

const listen = (server: Server): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      const address = server.address();
      if (address === null || typeof address === "string") reject(new Error("no port"));
      else resolve(address.port);
    });
  });

/** An HTTP server on 127.0.0.1 that answers every request with `script` once the body has been read. */
export const startScripted = async (script: Script): Promise<ScriptedServer> => {
  const requests: ScriptedServer["requests"] = [];
  const server = createServer((request, response) => {
    const chunks: Array<Buffer> = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      requests.push({
        method: request.method ?? "GET",
        path: request.url ?? "/",
        body,
        authorization: request.headers.authorization,
      });
      script(request, response, body);
    });
  });
  const port = await listen(server);
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};

export const sendJson = (
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) => {
  response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
  response.end(JSON.stringify(body));
};

/** Whether something accepts TCP connections on `host`:`port`. */
export const canConnect = (port: number, host = "127.0.0.1"): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });

/** The devserver as an OAuth target (real discovery). */
export const devserverTarget = (server: AuthorizationServer): Promise<OAuthTarget> =>
  run(
    Effect.map(discover(server.issuer), (found) => ({
      issuer: found.issuer,
      clientId: server.clientId,
      metadata: found.metadata,
    })),
  );

/** A full browser login against the devserver, the headless user approving and delivering the callback. */
export const browserLogin = async (server: AuthorizationServer, target: OAuthTarget): Promise<LoginResult> => {
  let approval: Promise<string> | undefined;
  const result = await run(
    login({
      target,
      scope: server.scopes,
      openBrowser: false,
      onUrl: (url) => {
        approval = approveAuthorization(url, { deliver: true });
      },
    }),
  );
  await approval;
  return result;
};
