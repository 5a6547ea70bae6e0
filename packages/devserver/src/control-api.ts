/**
 * A tiny HTTP control API under `/_test/` on the local authorization server, so tests running in other processes can
 * read counters and flip the latency/fault switches of a standalone server. It is served by the same loopback
 * listener, ahead of oidc-provider (whose routes never start with `/_test/`), and only when the server was started
 * with `controlApi: true`.
 *
 *   GET  /_test/counters                               → 200 JSON counters
 *   POST /_test/counters/reset                         → 204
 *   POST /_test/latency?ms=100                         → 204
 *   POST /_test/fail?count=2&status=503[&retryAfter=3] → 204   refused unprocessed
 *   POST /_test/lose?count=1&with=502                  → 204   processed, answer lost; `with` as in lost-answers.ts
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type LostAnswer, parseLostAnswer } from "./lost-answers.ts";
import type { ServerCounters } from "./server-counters.ts";

export const CONTROL_PATH_PREFIX = "/_test/";

/** What the control API operates on (a subset of `AuthorizationServer`). */
export interface ControlTarget {
  counters(): ServerCounters;
  resetCounters(): void;
  setLatency(ms: number): void;
  failNextTokenRequests(count: number, status: number, retryAfterSeconds?: number): void;
  loseNextTokenAnswers(count: number, answer: LostAnswer): void;
}

class BadControlRequest extends Error {}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  response.end(JSON.stringify(body));
}

function integerParameter(url: URL, name: string): number;
function integerParameter(url: URL, name: string, optional: "optional"): number | undefined;
function integerParameter(url: URL, name: string, optional?: "optional"): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null) {
    if (optional === "optional") return undefined;
    throw new BadControlRequest(`missing query parameter "${name}"`);
  }
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value)) {
    throw new BadControlRequest(`query parameter "${name}" must be a non-negative integer`);
  }
  return value;
}

function stringParameter(url: URL, name: string): string {
  const raw = url.searchParams.get(name);
  if (raw === null) throw new BadControlRequest(`missing query parameter "${name}"`);
  return raw;
}

function dispatch(method: string, url: URL, target: ControlTarget, response: ServerResponse): void {
  const route = `${method} ${url.pathname}`;
  switch (route) {
    case "GET /_test/counters":
      sendJson(response, 200, target.counters());
      return;
    case "POST /_test/counters/reset":
      target.resetCounters();
      break;
    case "POST /_test/latency":
      target.setLatency(integerParameter(url, "ms"));
      break;
    case "POST /_test/fail":
      target.failNextTokenRequests(
        integerParameter(url, "count"),
        integerParameter(url, "status"),
        integerParameter(url, "retryAfter", "optional"),
      );
      break;
    case "POST /_test/lose":
      target.loseNextTokenAnswers(integerParameter(url, "count"), parseLostAnswer(stringParameter(url, "with")));
      break;
    default:
      sendJson(response, 404, { error: "not_found", error_description: `no control route ${route}` });
      return;
  }
  response.writeHead(204, { "cache-control": "no-store" });
  response.end();
}

/** Answers one control request. The request body, if any, is ignored. */
export function answerControlRequest(
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  target: ControlTarget,
): void {
  request.resume();
  try {
    dispatch(request.method ?? "GET", url, target, response);
  } catch (error) {
    if (error instanceof BadControlRequest || error instanceof RangeError) {
      sendJson(response, 400, { error: "invalid_request", error_description: error.message });
      return;
    }
    throw error;
  }
}
