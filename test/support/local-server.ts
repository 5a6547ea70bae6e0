/**
 * One local authorization server per test file, and what tests say about it: the change of its counters since a
 * moment (refresh grants, reuse errors, token requests — how I1 is checked from outside), and a one-line account of a
 * finished `baton` process for assertion messages.
 */
import {
  type AuthorizationServer,
  type AuthorizationServerOptions,
  type ServerCounters,
  startAuthorizationServer,
} from "@baton/devserver";
import { afterAll, beforeAll } from "vitest";
import type { BatonResult } from "./baton-cli.ts";

/** Starts a server before the file's tests and stops it after them; call the returned function to get it. */
export const useLocalServer = (options: AuthorizationServerOptions = {}): (() => AuthorizationServer) => {
  let server: AuthorizationServer | undefined;
  beforeAll(async () => {
    server = await startAuthorizationServer(options);
  });
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (server === undefined) throw new Error("the local authorization server has not started");
    return server;
  };
};

/** How the server's counters moved since `before`. */
export const counterDelta = (server: AuthorizationServer, before: ServerCounters) => {
  const after = server.counters();
  return {
    refreshGrants: after.refreshGrants - before.refreshGrants,
    reuseErrors: after.reuseErrors - before.reuseErrors,
    tokenRequests: after.tokenRequests - before.tokenRequests,
  };
};

/** `exit 3 (SIGTERM): <stderr>` — for assertion messages. */
export const describeExit = (result: BatonResult): string =>
  `exit ${result.code}${result.signal === null ? "" : ` (${result.signal})`}: ${result.stderr.trim()}`;
