/**
 * Credentials: one generation of an account's tokens. Generation numbers start at 1 for the first login and go up by
 * one with every refresh, login or import (I2). The whole record is a secret: it only ever lives behind the secret
 * store port. What may be shown or logged about it is {@link describeCredentials}.
 */
import { Cause, Exit, Schema } from "effect";
import { fingerprint } from "./fingerprint.ts";

/** The stored form of one generation of credentials (schema version 1). */
export const Credentials = Schema.Struct({
  version: Schema.Literal(1),
  account: Schema.String,
  generation: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  accessToken: Schema.NonEmptyString,
  refreshToken: Schema.optionalKey(Schema.NonEmptyString),
  tokenType: Schema.String,
  /** Milliseconds since the epoch at which the access token expires. */
  expiresAt: Schema.Finite,
  /** Milliseconds since the epoch at which this generation was obtained. */
  obtainedAt: Schema.Finite,
  scope: Schema.optionalKey(Schema.String),
  issuer: Schema.String,
  clientId: Schema.String,
});
export type Credentials = typeof Credentials.Type;

/** Who an account's tokens belong to, from a validated ID token at login (not secret; shown by `status`). */
export interface Identity {
  readonly subject?: string;
  readonly email?: string;
  readonly name?: string;
}

/**
 * A token endpoint's successful answer, already validated by the adapter that received it. Once a server has answered
 * a refresh with a new refresh token, the rotation has happened: the answer is stored whatever else is wrong with it
 * (SPEC §3 step 7). What is wrong is carried along instead of failing: `withheld` says why the access token must not
 * be handed out (it is stored as already expired, so the next use refreshes), `problems` are secret-free notes for the
 * log and the event (an ID token that failed validation, a skewed clock).
 */
export interface TokenSet {
  readonly accessToken: string;
  readonly refreshToken: string | undefined;
  readonly tokenType: string;
  /** Lifetime in seconds, when the server said. */
  readonly expiresIn: number | undefined;
  readonly scope: string | undefined;
  /** Why the access token must not be handed out (e.g. a wider scope than granted, I10). */
  readonly withheld?: string;
  /** Secret-free notes about the answer that did not stop it being stored. */
  readonly problems?: ReadonlyArray<string>;
  /** How far this machine's clock is ahead of the server's (its `Date` header), in ms; positive: we are ahead. */
  readonly clockSkewMs?: number;
  /** Who the tokens belong to (logins with a validated ID token). */
  readonly identity?: Identity;
}

/** What can be said about credentials in the open: fingerprints and times, never token values. */
export interface CredentialsSummary {
  readonly generation: number;
  readonly accessFp: string;
  readonly refreshFp: string | undefined;
  readonly expiresAt: number;
  readonly obtainedAt: number;
  readonly scope: string | undefined;
}

export const describeCredentials = (credentials: Credentials): CredentialsSummary => ({
  generation: credentials.generation,
  accessFp: fingerprint(credentials.accessToken),
  refreshFp: credentials.refreshToken === undefined ? undefined : fingerprint(credentials.refreshToken),
  expiresAt: credentials.expiresAt,
  obtainedAt: credentials.obtainedAt,
  scope: credentials.scope,
});

/** Default lifetime assumed when a server omits `expires_in` (RFC 6749 §5.1 makes it RECOMMENDED, not required). */
export const DEFAULT_LIFETIME_SECONDS = 3600;

/**
 * The next generation built from a refresh answer. A response without a refresh token keeps the old one (I10), and
 * a response without a scope keeps the granted scope (RFC 6749 §5.1: scope is omitted when unchanged). A withheld
 * access token is stored as already expired (never handed out), and the granted scope is kept: a refresh never
 * widens what the account holds (I10).
 */
export const nextGeneration = (previous: Credentials, tokens: TokenSet, now: number): Credentials => {
  const refreshToken = tokens.refreshToken ?? previous.refreshToken;
  const scope = tokens.withheld === undefined ? (tokens.scope ?? previous.scope) : previous.scope;
  return {
    version: 1,
    account: previous.account,
    generation: previous.generation + 1,
    accessToken: tokens.accessToken,
    ...(refreshToken === undefined ? {} : { refreshToken }),
    tokenType: tokens.tokenType,
    expiresAt: tokens.withheld === undefined ? now + (tokens.expiresIn ?? DEFAULT_LIFETIME_SECONDS) * 1000 : now,
    obtainedAt: now,
    ...(scope === undefined ? {} : { scope }),
    issuer: previous.issuer,
    clientId: previous.clientId,
  };
};

/**
 * Whether `granted` asks for anything beyond `requested` (space-separated scope lists, RFC 6749 §3.3). A refresh
 * must never widen scope (I10).
 */
export const widensScope = (requested: string | undefined, granted: string | undefined): boolean => {
  if (granted === undefined || requested === undefined) return false;
  const allowed = new Set(requested.split(" ").filter((s) => s.length > 0));
  return granted.split(" ").some((s) => s.length > 0 && !allowed.has(s));
};

const decodeCredentials = Schema.decodeUnknownExit(Credentials);

/**
 * A stored record (JSON text from a file or a keychain item) as credentials, or why it is not one. The problem names
 * what is wrong and where (the field path), never the text itself: it is a secret.
 */
export const parseCredentialsRecord = (text: string): { readonly ok: Credentials } | { readonly problem: string } => {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { problem: "is not valid JSON" };
  }
  const decoded = decodeCredentials(json);
  if (Exit.isSuccess(decoded)) return { ok: decoded.value };
  const error = Cause.squash(decoded.cause);
  const detail = error instanceof Error ? error.message.replace(/\s*\n\s*/g, " ") : "schema mismatch";
  return { problem: `does not match the credentials schema (${detail})` };
};
