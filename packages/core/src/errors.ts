/**
 * The typed failures of baton, as tagged classes with closed `reason` unions. A host branches on the tag:
 * `LoginRequired` (exit 3), `Retryable` (exit 4), `NotFound` (exit 5), `InvalidInput` (exit 2); `StoreFailure` and
 * `TokenEndpointFailure` are what ports report to the protocol, which turns them into one of the former.
 * No error carries a token, code or verifier (I8): only fingerprints, RFC error codes and descriptions.
 */
import { Data } from "effect";

/** The account cannot get a token without a new login. */
export class LoginRequired extends Data.TaggedError("LoginRequired")<{
  readonly account: string;
  readonly reason: "no-credentials" | "revoked" | "in-doubt" | "no-refresh-token" | "logged-out" | "issuer-changed";
  readonly message: string;
}> {}

/** Nothing is lost; trying again later may succeed. */
export class Retryable extends Data.TaggedError("Retryable")<{
  readonly account: string;
  readonly reason:
    | "lock-timeout"
    | "server-error"
    | "rate-limited"
    | "network"
    | "in-flight-elsewhere"
    | "store-unavailable"
    | "persist-failed"
    | "backing-off"
    | "interrupted";
  readonly message: string;
  readonly retryAfterMs?: number;
}> {}

/** A provider or account that does not exist. */
export class NotFound extends Data.TaggedError("NotFound")<{
  readonly what: "provider" | "account";
  readonly name: string;
  readonly message: string;
}> {}

/** Input that cannot be accepted: arguments, configuration, import files. The message names the field. */
export class InvalidInput extends Data.TaggedError("InvalidInput")<{
  readonly reason: "argument" | "config" | "import" | "passphrase";
  readonly message: string;
}> {}

/** A storage port failed. `corrupt` stores are quarantined by the adapter before it reports. */
export class StoreFailure extends Data.TaggedError("StoreFailure")<{
  readonly reason: "io" | "corrupt" | "permission" | "no-space" | "unavailable" | "conflict";
  readonly message: string;
  readonly path?: string;
}> {}

/**
 * A token endpoint failure, classified. `processed` says whether the server may have acted on the request:
 * `"no"` (never reached, or refused before processing: 503, 429), `"yes"` (it answered with an error, e.g.
 * `invalid_grant`), `"unknown"` (sent, and no usable answer: a timeout, a reset, or a 500/502/504 that a gateway may
 * return after the server rotated — in doubt, I9). `clockSkewMs` is how far this machine's clock is ahead of the
 * server's (from its `Date` header), when that was measured.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export class TokenEndpointFailure extends Data.TaggedError("TokenEndpointFailure")<{
  readonly reason:
    | "invalid_grant"
    | "invalid_client"
    | "oauth_error"
    | "server_error"
    | "rate_limited"
    | "network"
    | "timeout"
    | "malformed_response"
    | "scope_widened"
    | "issuer_mismatch";
  readonly processed: "no" | "yes" | "unknown";
  readonly message: string;
  readonly status?: number;
  /** RFC 6749 §5.2 `error`. */
  readonly error?: string;
  /** RFC 6749 §5.2 `error_description`. */
  readonly errorDescription?: string;
  readonly retryAfterMs?: number;
  readonly clockSkewMs?: number;
}> {}

/** The lock could not be taken or was lost. */
export class LockFailure extends Data.TaggedError("LockFailure")<{
  readonly reason: "compromised" | "io";
  readonly message: string;
}> {}

/** Errors a host sees from `accessToken`, `refresh` and friends. */
export type BatonError = LoginRequired | Retryable | NotFound | InvalidInput;
