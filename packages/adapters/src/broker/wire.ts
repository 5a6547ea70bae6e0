/**
 * The broker's HTTP/JSON API, version 1 (docs/serve.md), shared by the broker (`baton serve`) and its thin clients:
 * the paths, the hand-out a client receives, and the error document with its classes — each class an HTTP status and
 * one of baton's exit codes, so a thin client fails exactly as a local `baton` would.
 *
 *   GET /v1/health                          {"status":"ok","api":1}   (no client token needed)
 *   GET /v1/token?account=REF               a hand-out (below) for REF (PROVIDER:ACCOUNT or PROVIDER)
 *   GET /v1/token?tool=git|docker&host=H    a hand-out for the account the broker maps host H to (`baton host add`)
 *   GET /v1/account?ref=REF                 {"account":"PROVIDER:ACCOUNT"}: what REF names on the broker
 *   GET /v1/status[?account=REF]            {"version":1,"accounts":[…]}: `baton status --json`'s document
 *   GET /v1/hosts?tool=git|docker           {"hosts":[{"host","username"}]}: the mapped hosts
 *
 * A hand-out is an access token and what a client needs to use and cache it — never a refresh token:
 *
 *   { access_token, token_type, expires_at (RFC 3339), expires_in (s), scope, account,   ← `baton token --json`
 *     generation, obtained_at (RFC 3339), username, cache_until (RFC 3339) }
 *
 * `username` is what tools pair with the token (the host mapping's, the provider's, else `oauth2`); `cache_until` is
 * the expiry a caching client is told (the real one minus a skew margin, wire/hand-out.ts of the CLI).
 *
 * Hand-written checks instead of a schema library: the `baton token` fast path decodes hand-outs and must not load
 * one. Loads nothing but Node.
 */

export const API_VERSION = 1;

export const PATHS = {
  health: "/v1/health",
  token: "/v1/token",
  account: "/v1/account",
  status: "/v1/status",
  hosts: "/v1/hosts",
} as const;

/** The credential helpers whose host mappings a client may ask the broker about. */
export type HelperTool = "git" | "docker";

/** `baton token --json`: the access token and what a caller needs to cache it (docs/cli.md). */
export interface TokenJson {
  readonly access_token: string;
  readonly token_type: string;
  readonly expires_at: string;
  readonly expires_in: number;
  readonly scope: string | null;
  readonly account: string;
}

/** A hand-out: `baton token --json`'s fields, then what a thin client or a credential helper needs besides. */
export interface HandOut extends TokenJson {
  readonly generation: number;
  readonly obtained_at: string;
  readonly username: string;
  readonly cache_until: string;
}

/** What a client asks a token for: an account reference, or a host mapped on the broker. */
export type TokenQuery = { readonly account: string } | { readonly tool: HelperTool; readonly host: string };

export const tokenPath = (query: TokenQuery): string =>
  "account" in query
    ? `${PATHS.token}?${new URLSearchParams({ account: query.account })}`
    : `${PATHS.token}?${new URLSearchParams({ tool: query.tool, host: query.host })}`;

/**
 * The classes of failure, each with its HTTP status and exit code (0 ok · 1 bug · 2 usage or invalid input · 3 login
 * needed · 4 retryable · 5 not found). `unreachable` never comes from a broker: it is the client's name for a broker it
 * could not reach or that stopped answering.
 */
export const ERROR_CLASSES = {
  "invalid-request": { status: 400, exitCode: 2 },
  unauthorized: { status: 401, exitCode: 2 },
  forbidden: { status: 403, exitCode: 2 },
  "not-found": { status: 404, exitCode: 5 },
  "login-required": { status: 409, exitCode: 3 },
  "invalid-input": { status: 422, exitCode: 2 },
  "rate-limited": { status: 429, exitCode: 4 },
  internal: { status: 500, exitCode: 1 },
  retryable: { status: 503, exitCode: 4 },
  unreachable: { status: 502, exitCode: 4 },
} as const;

export type ErrorClass = keyof typeof ERROR_CLASSES;

export const isErrorClass = (value: unknown): value is ErrorClass =>
  typeof value === "string" && Object.hasOwn(ERROR_CLASSES, value);

/** A failure as the API carries it (`{"error": {...}}`), and as a thin client reports it. */
export interface BrokerProblem {
  readonly class: ErrorClass;
  /** The failure's reason within its class (e.g. `revoked`, `network`, `account`); free text for display. */
  readonly reason: string;
  /** One line for stderr; never a secret. */
  readonly message: string;
  readonly retryAfterMs?: number;
  /** The account the failure is about, when there is one. */
  readonly account?: string;
}

export interface ErrorDocument {
  readonly error: {
    readonly class: ErrorClass;
    readonly reason: string;
    readonly message: string;
    readonly exit_code: number;
    readonly retry_after_ms?: number;
    readonly account?: string;
  };
}

export const errorDocument = (problem: BrokerProblem): ErrorDocument => ({
  error: {
    class: problem.class,
    reason: problem.reason,
    message: problem.message,
    exit_code: ERROR_CLASSES[problem.class].exitCode,
    ...(problem.retryAfterMs === undefined ? {} : { retry_after_ms: problem.retryAfterMs }),
    ...(problem.account === undefined ? {} : { account: problem.account }),
  },
});

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

const isTime = (value: unknown): value is string => typeof value === "string" && RFC3339.test(value);

/** A hand-out from a parsed JSON body, or `undefined` when the body is not one. */
export const decodeHandOut = (body: unknown): HandOut | undefined => {
  if (!isRecord(body)) return undefined;
  const { access_token, token_type, expires_at, expires_in, scope, account, generation, obtained_at } = body;
  const { username, cache_until } = body;
  if (
    typeof access_token !== "string" ||
    access_token === "" ||
    typeof token_type !== "string" ||
    !isTime(expires_at) ||
    typeof expires_in !== "number" ||
    !Number.isFinite(expires_in) ||
    (scope !== null && typeof scope !== "string") ||
    typeof account !== "string" ||
    typeof generation !== "number" ||
    !Number.isInteger(generation) ||
    !isTime(obtained_at) ||
    typeof username !== "string" ||
    !isTime(cache_until)
  ) {
    return undefined;
  }
  return {
    access_token,
    token_type,
    expires_at,
    expires_in,
    scope,
    account,
    generation,
    obtained_at,
    username,
    cache_until,
  };
};

/**
 * The problem an error answer carries, from its HTTP status and parsed body. An answer that is not the API's error
 * document (a proxy's page, another server) is classed by its status alone.
 */
export const decodeProblem = (status: number, body: unknown, where: string): BrokerProblem => {
  const error = isRecord(body) ? body.error : undefined;
  if (isRecord(error) && isErrorClass(error.class) && typeof error.message === "string") {
    return {
      class: error.class,
      reason: typeof error.reason === "string" ? error.reason : error.class,
      message: error.message,
      ...(typeof error.retry_after_ms === "number" ? { retryAfterMs: error.retry_after_ms } : {}),
      ...(typeof error.account === "string" ? { account: error.account } : {}),
    };
  }
  if (status >= 500 || status === 429) {
    return {
      class: "retryable",
      reason: "server-error",
      message: `the broker at ${where} answered HTTP ${status} without an explanation; try again`,
    };
  }
  return {
    class: "invalid-input",
    reason: "not-a-broker",
    message: `${where} answered HTTP ${status}, which is not baton's broker API: is BATON_SERVER the address \`baton serve\` printed?`,
  };
};
