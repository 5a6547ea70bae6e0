/**
 * Errors of the interactive OAuth flows, and the one place where text that came from a server is made safe to show.
 *
 * Login failures are a tagged error with a closed `reason` union (a host maps them to exit codes: `timeout`,
 * `network`, `server_error` are worth retrying; the others need the user or the configuration). Server-provided
 * text (RFC 6749 §5.2 `error` / `error_description`, RFC 8628 §3.5 codes) passes through {@link safeServerText}:
 * shortened, restricted to the RFC's printable ASCII, and with anything that looks like a token replaced, because a
 * confused or malicious server could echo a token or code back (I8).
 */
import { Data } from "effect";

export class LoginFailed extends Data.TaggedError("LoginFailed")<{
  readonly reason:
    | "timeout"
    | "state_mismatch"
    | "issuer_mismatch"
    | "access_denied"
    | "expired"
    | "authorization_error"
    | "token_error"
    | "unsupported"
    | "listen_failed"
    | "network"
    | "server_error"
    | "malformed_response";
  readonly message: string;
  /** RFC 6749 §4.1.2.1 / §5.2 or RFC 8628 §3.5 `error` code, sanitized. */
  readonly error?: string;
  readonly errorDescription?: string;
}> {}

/** Runs of token characters this long are treated as secrets and never shown. */
const TOKEN_LIKE = /[A-Za-z0-9._~+/=-]{24,}/g;

/**
 * `text` as it may appear in a message: printable ASCII only (RFC 6749 §5.2 allows nothing else), at most `max`
 * characters, token-like runs and any of `secrets` replaced by `[redacted]`. `undefined` for non-strings or empty.
 */
export const safeServerText = (text: unknown, secrets: ReadonlyArray<string> = [], max = 200): string | undefined => {
  if (typeof text !== "string") return undefined;
  let cleaned = text;
  for (const secret of secrets) {
    if (secret.length > 0) cleaned = cleaned.split(secret).join("[redacted]");
  }
  cleaned = cleaned
    .replace(/[^\x20-\x7e]/g, " ")
    .replace(TOKEN_LIKE, "[redacted]")
    .replace(/\s+/g, " ")
    .trim();
  if (cleaned.length === 0) return undefined;
  return cleaned.length > max ? `${cleaned.slice(0, max)}…` : cleaned;
};

/** An RFC 6749 §5.2 error code as it may be shown: the RFC's charset, short, not token-like. */
export const safeErrorCode = (code: unknown): string | undefined => {
  if (typeof code !== "string" || !/^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(code)) return undefined;
  return safeServerText(code, [], 64);
};

/** Message of an unknown thrown value without its cause chain (causes may hold response bodies). */
export const describeThrown = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === "string" ? error : "unknown error";
