/**
 * The broker's HTTP API (version 1, @baton/adapters BrokerWire; docs/serve.md) over a {@link Broker}: one request in,
 * one JSON answer out, independent of the socket it came from. It checks, in this order: the method (GET only) and
 * the path; the caller's client token — required on TCP, optional on the unix socket (whose 0600 mode already limits
 * who connects) but checked when given — unless the caller's source is being refused for too many bad tokens; then
 * the query, which must hold exactly the parameters of its route. Answers are never cached (`no-store`); a refused
 * token is 401 with `WWW-Authenticate: Bearer`, a throttled source 429 and a busy broker 503, both with `Retry-After`.
 * Nothing here logs or echoes a token.
 */
import { BrokerWire } from "@baton/adapters";
import type { Broker, Caller, Outcome } from "./broker.ts";
import { LOCAL_CALLER } from "./broker.ts";
import type { FailureLimiter } from "./failure-limiter.ts";

export interface ApiRequest {
  readonly method: string;
  /** The request target: path and query. */
  readonly url: string;
  readonly authorization: string | undefined;
  readonly transport: "unix" | "tcp";
  /** Who is throttled together: the TCP peer's address, or "unix". */
  readonly source: string;
  readonly now: number;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };

const ok = (value: unknown): ApiResponse => ({
  status: 200,
  headers: JSON_HEADERS,
  body: `${JSON.stringify(value)}\n`,
});

export const problemResponse = (problem: BrokerWire.BrokerProblem): ApiResponse => {
  const headers: Record<string, string> = { ...JSON_HEADERS };
  if (problem.class === "unauthorized") headers["www-authenticate"] = 'Bearer realm="baton"';
  if (problem.retryAfterMs !== undefined)
    headers["retry-after"] = String(Math.max(1, Math.ceil(problem.retryAfterMs / 1000)));
  return {
    status: BrokerWire.ERROR_CLASSES[problem.class].status,
    headers,
    body: `${JSON.stringify(BrokerWire.errorDocument(problem))}\n`,
  };
};

const respond = <A>(outcome: Outcome<A>): ApiResponse =>
  "ok" in outcome ? ok(outcome.ok) : problemResponse(outcome.problem);

const badRequest = (message: string, reason = "request"): ApiResponse =>
  problemResponse({ class: "invalid-request", reason, message });

/** The route's parameters; extra, repeated or missing ones are a bad request. */
const parameters = (url: URL, allowed: ReadonlyArray<string>): Readonly<Record<string, string>> | ApiResponse => {
  const values: Record<string, string> = {};
  for (const [name, value] of url.searchParams) {
    if (!allowed.includes(name)) {
      return badRequest(
        `${url.pathname} takes ${allowed.length === 0 ? "no parameters" : allowed.join(", ")}, not "${name.slice(0, 64)}"`,
      );
    }
    if (Object.hasOwn(values, name)) return badRequest(`${url.pathname}: "${name}" is given twice`);
    if (value === "" || value.length > 512) return badRequest(`${url.pathname}: "${name}" must be 1 to 512 characters`);
    values[name] = value;
  }
  return values;
};

const isResponse = (value: unknown): value is ApiResponse =>
  typeof value === "object" && value !== null && "status" in value && "body" in value;

const TOOLS: ReadonlyArray<BrokerWire.HelperTool> = ["git", "docker"];

const toolOf = (value: string | undefined): BrokerWire.HelperTool | ApiResponse => {
  const tool = TOOLS.find((known) => known === value);
  return tool ?? badRequest(`tool must be git or docker, not "${(value ?? "").slice(0, 64)}"`);
};

/** The caller behind the request's credentials, or the refusal to send. */
const authenticate = async (
  request: ApiRequest,
  broker: Broker,
  limiter: FailureLimiter,
): Promise<Caller | ApiResponse> => {
  const blockedMs = limiter.blockedFor(request.source, request.now);
  if (blockedMs > 0) {
    return problemResponse({
      class: "rate-limited",
      reason: "client-token",
      message: `too many refused client tokens from this ${request.transport === "unix" ? "socket" : "address"}; try again in ${Math.ceil(blockedMs / 1000)} s`,
      retryAfterMs: blockedMs,
    });
  }
  const refuse = (message: string): ApiResponse => {
    limiter.refused(request.source, request.now);
    return problemResponse({ class: "unauthorized", reason: "client-token", message });
  };
  if (request.authorization === undefined) {
    return request.transport === "unix"
      ? LOCAL_CALLER
      : refuse(
          "this broker needs a client token over TCP: set BATON_SERVER_TOKEN (`baton serve client add NAME` on the broker's host)",
        );
  }
  const match = /^Bearer +([\x21-\x7e]{1,512})$/i.exec(request.authorization);
  if (match?.[1] === undefined) return refuse("the Authorization header is not `Bearer CLIENT-TOKEN`");
  const identified = await broker.identify(match[1]);
  if ("problem" in identified) return problemResponse(identified.problem);
  return (
    identified.ok ??
    refuse(
      "the broker refused BATON_SERVER_TOKEN: it is no client token of this broker (mistyped, or removed with `baton serve client remove`)",
    )
  );
};

/** Answers one request. */
export const handle = async (request: ApiRequest, broker: Broker, limiter: FailureLimiter): Promise<ApiResponse> => {
  if (request.method !== "GET") {
    const response = badRequest(
      `the broker's API takes GET requests only, not ${request.method.slice(0, 16)}`,
      "method",
    );
    return { ...response, status: 405, headers: { ...response.headers, allow: "GET" } };
  }
  const url = URL.parse(request.url, "http://broker");
  if (url === null || !request.url.startsWith("/")) return badRequest("the request target is not a path");
  if (url.pathname === BrokerWire.PATHS.health) {
    const params = parameters(url, []);
    return isResponse(params) ? params : ok({ status: "ok", api: BrokerWire.API_VERSION });
  }
  const routes: ReadonlyArray<string> = Object.values(BrokerWire.PATHS);
  if (!routes.includes(url.pathname)) {
    return problemResponse({
      class: "not-found",
      reason: "route",
      message: `no ${url.pathname.slice(0, 128)} here: this broker answers ${routes.join(", ")} (API version ${BrokerWire.API_VERSION})`,
    });
  }
  const caller = await authenticate(request, broker, limiter);
  if (isResponse(caller)) return caller;
  switch (url.pathname) {
    case BrokerWire.PATHS.token: {
      const params = parameters(url, ["account", "tool", "host"]);
      if (isResponse(params)) return params;
      const { account, tool, host } = params;
      if (account !== undefined && tool === undefined && host === undefined) {
        return respond(await broker.handOut(caller, { account }));
      }
      if (account === undefined && host !== undefined) {
        const known = toolOf(tool);
        return isResponse(known) ? known : respond(await broker.handOut(caller, { tool: known, host }));
      }
      return badRequest(`${url.pathname} takes either account=REF, or tool=git|docker and host=HOST`);
    }
    case BrokerWire.PATHS.account: {
      const params = parameters(url, ["ref"]);
      if (isResponse(params)) return params;
      if (params.ref === undefined) return badRequest(`${url.pathname} needs ref=REF`);
      return respond(await broker.resolve(caller, params.ref));
    }
    case BrokerWire.PATHS.status: {
      const params = parameters(url, ["account"]);
      return isResponse(params) ? params : respond(await broker.status(caller, params.account));
    }
    default: {
      const params = parameters(url, ["tool"]);
      if (isResponse(params)) return params;
      const tool = toolOf(params.tool);
      return isResponse(tool) ? tool : respond(await broker.hosts(caller, tool));
    }
  }
};
