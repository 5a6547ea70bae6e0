/**
 * Processing of refresh-grant answers: every outcome becomes a `TokenSet` or a `TokenEndpointFailure` whose
 * `processed` field tells the protocol whether the server may have rotated the refresh token.
 *
 *   answer                                              result / reason     processed
 *   200, valid                                          (TokenSet)
 *   200 with a usable new refresh token, anything else  (TokenSet, with `withheld` / `problems`: the rotation is kept;
 *     wrong (ID token, token_type, scope, expires_in)     an unusable access token is never handed out)
 *   200 without a usable refresh token, and invalid     malformed_response  unknown  (it may have rotated)
 *   other 2xx                                           malformed_response  unknown
 *   3xx                                                 oauth_error         no       (a token endpoint never redirects)
 *   400/401 invalid_grant (GitHub: bad_refresh_token)    invalid_grant       yes
 *   200 with an OAuth `error` and no token (GitHub)     as the 4xx rows
 *   400/401 invalid_client, or 401 without a body       invalid_client      yes
 *   4xx temporarily_unavailable / server_error code     server_error        no
 *   other 4xx (RFC 6749 §5.2 codes or none)             oauth_error         yes
 *   408 (the request never arrived whole), 503          server_error        no       (Retry-After honoured)
 *   429                                                 rate_limited        no       (Retry-After honoured)
 *   500, 502, 504, other 5xx                            server_error        unknown  (a gateway may answer them after
 *                                                                                      the server rotated: in doubt)
 *   nothing sent (refused, DNS, TLS, local problem)     network / oauth_error no
 *   sent, then reset or timeout                         timeout             unknown
 *
 * What "processed" means per status is the product's choice, documented in docs/refresh-protocol.md: 503 and 429 are
 * refusals before processing (RFC 9110 §15.6.4, RFC 6585 §4); 500 may come from the server after it acted; 502 and 504
 * come from gateways that forwarded the request and lost (or never got) the answer — the server may have rotated.
 *
 * Messages carry the status, sanitized RFC 6749 §5.2 `error` / `error_description` and oauth4webapi's fixed
 * validation messages; never a body, a token or anything token-like (I8).
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
import { TokenEndpointFailure, type TokenSet, widensScope } from "@baton/core";
import * as oauth from "oauth4webapi";
import { authorizationServer, client, type OAuthTarget } from "./client.ts";
import { describeThrown, safeErrorCode, safeServerText } from "./errors.ts";
import { type Exchange, TransportError } from "./http.ts";
import { BEARER, checkTokens, isVisibleToken, MAX_EXPIRES_IN_SECONDS } from "./token-rules.ts";

/** Retry-After values beyond a day are clamped. */
const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

export interface ResponseContext {
  /** The scope granted so far; the answer must not exceed it (I10). */
  readonly requestedScope: string | undefined;
  /** Secrets that must never appear in a message (the presented refresh token). */
  readonly secrets: ReadonlyArray<string>;
  /** Now, in ms since the epoch (for Retry-After dates). */
  readonly now: number;
  /** This machine's clock minus the server's, from the answer's `Date` header, when it had one. */
  readonly clockSkewMs?: number | undefined;
}

type Fields = ConstructorParameters<typeof TokenEndpointFailure>[0];
const failure = (fields: Fields): TokenEndpointFailure => new TokenEndpointFailure(fields);

/**
 * `Retry-After` as milliseconds from `now`: delay-seconds or an HTTP-date, clamped to [0, 1 day].
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
 */
export const parseRetryAfter = (value: string | null, now: number): number | undefined => {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isFinite(at) ? Math.min(Math.max(at - now, 0), MAX_RETRY_AFTER_MS) : undefined;
};

const retryAfter = (response: Response, now: number) => {
  const ms = parseRetryAfter(response.headers.get("retry-after"), now);
  return ms === undefined ? {} : { retryAfterMs: ms };
};

/** A failure carrying an RFC 6749 §5.2 error answer. */
const oauthError = (status: number, code: unknown, description: unknown, context: ResponseContext) => {
  const error = safeErrorCode(code);
  const errorDescription = safeServerText(description, context.secrets);
  const detail = {
    status,
    ...(error === undefined ? {} : { error }),
    ...(errorDescription === undefined ? {} : { errorDescription }),
  };
  const said = `${error ?? "an unreadable error code"}${errorDescription === undefined ? "" : ` (${errorDescription})`}`;
  // GitHub names a used or unknown refresh token `bad_refresh_token` (and answers it with HTTP 200).
  if (error === "invalid_grant" || error === "bad_refresh_token") {
    return failure({
      reason: "invalid_grant",
      processed: "yes",
      message: `the refresh token was rejected: ${said}`,
      ...detail,
    });
  }
  if (error === "invalid_client") {
    return failure({
      reason: "invalid_client",
      processed: "yes",
      message: `the client was rejected: ${said}`,
      ...detail,
    });
  }
  if (error === "temporarily_unavailable" || error === "server_error") {
    return failure({
      reason: "server_error",
      processed: "no",
      message: `the server is unavailable: ${said}`,
      ...detail,
    });
  }
  return failure({
    reason: "oauth_error",
    processed: "yes",
    message: `the token endpoint answered HTTP ${status}: ${said}`,
    ...detail,
  });
};

const lenientErrorBody = async (response: Response): Promise<{ error: unknown; description: unknown } | undefined> => {
  try {
    const body: unknown = JSON.parse(await response.text());
    if (typeof body === "object" && body !== null && "error" in body && typeof body.error === "string") {
      return { error: body.error, description: "error_description" in body ? body.error_description : undefined };
    }
  } catch {
    // not JSON
  }
  return undefined;
};

/** 4xx (not 408/429): oauth4webapi's error parsing, then a lenient one for servers that mislabel JSON. */
const processErrorAnswer = async (target: OAuthTarget, response: Response, context: ResponseContext) => {
  const status = response.status;
  const copy = response.clone();
  try {
    await oauth.processRefreshTokenResponse(authorizationServer(target), client(target), response);
  } catch (error) {
    if (error instanceof oauth.ResponseBodyError)
      return oauthError(status, error.error, error.error_description, context);
  }
  const body = await lenientErrorBody(copy);
  if (body !== undefined) return oauthError(status, body.error, body.description, context);
  if (status === 401) {
    return failure({
      reason: "invalid_client",
      processed: "yes",
      status,
      message: "the token endpoint answered HTTP 401 (client authentication failed)",
    });
  }
  return failure({
    reason: "oauth_error",
    processed: "yes",
    status,
    message: `the token endpoint answered HTTP ${status} without an OAuth error`,
  });
};

const malformed = (message: string, status = 200) =>
  failure({
    reason: "malformed_response",
    processed: "unknown",
    status,
    message: `the token endpoint answered ${status} but ${message}`,
  });

/**
 * baton's limits on a token response oauth4webapi already validated (token-rules.ts, the same rules `baton import`
 * applies): Bearer, tokens of visible ASCII only, a bounded `expires_in`. Returns the problem, or the `TokenSet`.
 * Shared by the refresh, authorization code and device code grants.
 */
export const toTokenSet = (json: oauth.TokenEndpointResponse): TokenSet | string => {
  const problem = checkTokens({
    accessToken: json.access_token,
    refreshToken: json.refresh_token,
    tokenType: json.token_type,
    expiresIn: json.expires_in,
  });
  if (problem !== undefined) return `${problem.field} ${problem.problem}`;
  return {
    accessToken: json.access_token,
    refreshToken: json.refresh_token,
    tokenType: BEARER,
    expiresIn: json.expires_in,
    scope: json.scope,
  };
};

/** The answer's JSON object, read leniently (for salvaging a rotation oauth4webapi refused); `undefined` if none. */
const lenientBody = async (response: Response): Promise<Record<string, unknown> | undefined> => {
  try {
    const body: unknown = JSON.parse(await response.text());
    return typeof body === "object" && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
};

/**
 * A 200 answer as a `TokenSet` when it carries what a rotation must not lose, whatever else is wrong with it
 * (SPEC §3 step 7): a usable new refresh token, or — from a server that does not rotate — a usable access token.
 * What is wrong becomes `withheld` (the access token is stored but never handed out) or `problems`. Without either,
 * the answer is malformed and its outcome unknown (I9).
 */
const salvage = (
  body: Record<string, unknown> | undefined,
  validationProblem: string | undefined,
  context: ResponseContext,
): TokenSet | TokenEndpointFailure => {
  const refresh = body?.refresh_token;
  if (refresh !== undefined && (typeof refresh !== "string" || !isVisibleToken(refresh))) {
    return malformed("its refresh_token is unusable (empty, not a string, or not visible ASCII)");
  }
  const access = body?.access_token;
  const accessUsable = typeof access === "string" && isVisibleToken(access);
  if (refresh === undefined && (!accessUsable || validationProblem !== undefined)) {
    return malformed(validationProblem ?? "its access_token is unusable");
  }
  const tokenType = typeof body?.token_type === "string" ? body.token_type : "";
  const expiresIn = body?.expires_in;
  const scope = typeof body?.scope === "string" ? body.scope : undefined;
  const problems = validationProblem === undefined ? [] : [validationProblem];
  const lifetimeOk =
    typeof expiresIn === "number" &&
    Number.isFinite(expiresIn) &&
    expiresIn >= 0 &&
    expiresIn <= MAX_EXPIRES_IN_SECONDS;
  if (expiresIn !== undefined && !lifetimeOk)
    problems.push("expires_in is out of range; the default lifetime was used");
  const withheld = !accessUsable
    ? "an unusable access token (empty, not a string, or not visible ASCII)"
    : tokenType.toLowerCase() !== "bearer"
      ? "a token_type that is not Bearer"
      : widensScope(context.requestedScope, scope)
        ? `a wider scope than granted (${safeServerText(scope, context.secrets) ?? "?"})`
        : undefined;
  return {
    // A withheld access token is stored already expired and never handed out; an unusable one is not kept at all.
    accessToken: accessUsable ? access : "withheld",
    refreshToken: refresh,
    tokenType: "Bearer",
    expiresIn: lifetimeOk ? expiresIn : undefined,
    scope,
    ...(withheld === undefined ? {} : { withheld }),
    ...(problems.length === 0 ? {} : { problems }),
  };
};

/**
 * 200: oauth4webapi's validation (types, token_type, ID token claims — with the clock skew measured from the
 * answer's `Date` header, so a machine whose clock is off does not refuse a valid ID token), then baton's own limits
 * and I10. A rotation is never thrown away: see {@link salvage}.
 */
const processSuccess = async (
  target: OAuthTarget,
  response: Response,
  context: ResponseContext,
): Promise<TokenSet | TokenEndpointFailure> => {
  // An OAuth error answered with 200 and no token at all (GitHub does this) is an error answer, not a rotation.
  const early = await lenientBody(response.clone());
  if (typeof early?.error === "string" && early.access_token === undefined && early.refresh_token === undefined) {
    return oauthError(200, early.error, early.error_description, context);
  }
  const copy = response.clone();
  const skewSeconds = context.clockSkewMs === undefined ? undefined : Math.round(context.clockSkewMs / 1000);
  const skewedClient =
    skewSeconds === undefined ? client(target) : { ...client(target), [oauth.clockSkew]: -skewSeconds };
  let json: oauth.TokenEndpointResponse;
  try {
    json = await oauth.processRefreshTokenResponse(authorizationServer(target), skewedClient, response);
  } catch (error) {
    const problem = `the answer failed validation: ${safeServerText(describeThrown(error), context.secrets) ?? "invalid"}`;
    return salvage(await lenientBody(copy), problem, context);
  }
  const strict = toTokenSet(json);
  if (typeof strict === "string") return salvage(await lenientBody(copy), undefined, context);
  if (widensScope(context.requestedScope, strict.scope)) return salvage(await lenientBody(copy), undefined, context);
  return strict;
};

/** Classifies a refresh-grant answer. Never rejects. */
export const processRefreshAnswer = async (
  target: OAuthTarget,
  response: Response,
  context: ResponseContext,
): Promise<TokenSet | TokenEndpointFailure> => {
  const status = response.status;
  try {
    if (status === 200) return await processSuccess(target, response, context);
    if (status === 429) {
      return failure({
        reason: "rate_limited",
        processed: "no",
        status,
        message: "the token endpoint is rate limiting (HTTP 429)",
        ...retryAfter(response, context.now),
      });
    }
    if (status === 408 || status === 503) {
      return failure({
        reason: "server_error",
        processed: "no",
        status,
        message: `the token endpoint answered HTTP ${status}`,
        ...retryAfter(response, context.now),
      });
    }
    if (status >= 500) {
      return failure({
        reason: "server_error",
        processed: "unknown",
        status,
        message: `the token endpoint answered HTTP ${status}, which a gateway may send after the server rotated`,
        ...retryAfter(response, context.now),
      });
    }
    if (status >= 400) return await processErrorAnswer(target, response, context);
    if (status >= 300) {
      return failure({
        reason: "oauth_error",
        processed: "no",
        status,
        message: `the token endpoint answered with a redirect (HTTP ${status}); check its token_endpoint`,
      });
    }
    return malformed("with an unexpected status", status);
  } catch (error) {
    return malformed(
      `the answer could not be read: ${safeServerText(describeThrown(error), context.secrets) ?? "error"}`,
      status,
    );
  }
};

/** Classifies a request that got no answer, using what the transport recorded. */
export const classifyThrown = (
  error: unknown,
  exchange: Exchange,
  secrets: ReadonlyArray<string>,
): TokenEndpointFailure => {
  if (error instanceof TransportError) {
    if (!error.sent)
      return failure({
        reason: "network",
        processed: "no",
        message: `the refresh request was not sent: ${error.message}`,
      });
    if (error.kind === "too_large" || error.kind === "protocol") {
      return failure({
        reason: "malformed_response",
        processed: "unknown",
        message: error.message,
        ...(exchange.status === undefined ? {} : { status: exchange.status }),
      });
    }
    return failure({
      reason: "timeout",
      processed: "unknown",
      message: `the refresh request was sent but ${error.message}`,
    });
  }
  if (exchange.startedAt === undefined) {
    // oauth4webapi refused before any I/O: a configuration problem (e.g. an endpoint it will not call).
    return failure({
      reason: "oauth_error",
      processed: "no",
      message: `the refresh request could not be made: ${safeServerText(describeThrown(error), secrets) ?? "error"}`,
    });
  }
  return failure({
    reason: "timeout",
    processed: "unknown",
    message: "the refresh request failed after it was started",
  });
};
