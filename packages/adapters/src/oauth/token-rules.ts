/**
 * baton's rules for the tokens it stores and hands out, whoever supplied them: a token endpoint's answer (after
 * oauth4webapi's own validation, token-response.ts) or a token file given to `baton import`. One set of rules, so a
 * token baton would refuse from a server cannot come in through the side door:
 *
 * - `token_type` is Bearer (case-insensitive, RFC 6750 §4; DPoP is not supported);
 * - access and refresh tokens are visible ASCII only (%x21-7E): they end up in HTTP headers, environment variables
 *   and credential-helper protocols, where a space, a newline or a NUL byte would split or corrupt them;
 * - a lifetime fits in ten years: `expires_in` in seconds, or an absolute `expires_at` in ms since the epoch at most
 *   ten years after now (a larger value is a broken issuer or file, and would overflow an expiry in milliseconds).
 *
 * A problem names the field (RFC 6749 §5.1 names) and says what is wrong, never the value (I8).
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */

/** Ten years: the longest lifetime baton accepts for an access token. */
export const MAX_EXPIRES_IN_SECONDS = 10 * 365 * 24 * 60 * 60;

/** Milliseconds since the epoch below this are almost certainly seconds (1e11 ms is March 1973). */
const MIN_EXPIRES_AT_MS = 1e11;

const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/** Whether `token` is a non-empty run of visible ASCII (the rule for access and refresh tokens). */
export const isVisibleToken = (token: string): boolean => VISIBLE_ASCII.test(token);

/** A field that breaks a rule, and how. */
export interface TokenProblem {
  readonly field: "token_type" | "access_token" | "refresh_token" | "expires_in" | "expires_at";
  readonly problem: string;
}

/** The token fields as received, before baton stores them. */
export interface ReceivedTokens {
  readonly accessToken: string;
  readonly refreshToken: string | undefined;
  readonly tokenType: string;
  /** Seconds, when given. */
  readonly expiresIn: number | undefined;
}

/** The first rule `tokens` break, or `undefined` when baton may store them. */
export const checkTokens = (tokens: ReceivedTokens): TokenProblem | undefined => {
  if (tokens.tokenType.toLowerCase() !== "bearer") return { field: "token_type", problem: 'is not "Bearer"' };
  if (!VISIBLE_ASCII.test(tokens.accessToken)) {
    return { field: "access_token", problem: "contains characters outside visible ASCII" };
  }
  if (tokens.refreshToken !== undefined && !VISIBLE_ASCII.test(tokens.refreshToken)) {
    return { field: "refresh_token", problem: "contains characters outside visible ASCII" };
  }
  if (
    tokens.expiresIn !== undefined &&
    !(Number.isFinite(tokens.expiresIn) && tokens.expiresIn >= 0 && tokens.expiresIn <= MAX_EXPIRES_IN_SECONDS)
  ) {
    return { field: "expires_in", problem: `is out of range (expected 0 to ${MAX_EXPIRES_IN_SECONDS} seconds)` };
  }
  return undefined;
};

/** The problem of an absolute expiry `expiresAt` (ms since the epoch) judged at `now`, or `undefined`. */
export const checkExpiresAt = (expiresAt: number, now: number): TokenProblem | undefined => {
  if (!Number.isFinite(expiresAt) || expiresAt <= 0) {
    return { field: "expires_at", problem: "expected milliseconds since the epoch (a positive number)" };
  }
  if (expiresAt < MIN_EXPIRES_AT_MS) {
    return { field: "expires_at", problem: "expected milliseconds since the epoch (this looks like seconds)" };
  }
  if (expiresAt > now + MAX_EXPIRES_IN_SECONDS * 1000) {
    return { field: "expires_at", problem: "is out of range (more than ten years from now)" };
  }
  return undefined;
};

/** The canonical spelling baton stores for an accepted token type. */
export const BEARER = "Bearer";
