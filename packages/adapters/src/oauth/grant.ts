/**
 * What the two login grants (authorization code, device code) share once the token endpoint has answered: the
 * result (a validated `TokenSet` plus the validated ID token claims, if any) and the mapping of anything thrown into
 * a `LoginFailed` that names the step and never a secret.
 *
 * A login answer without `scope` means the requested scope was granted as is (RFC 6749 §5.1), so the result carries
 * the requested scope then: later refreshes compare against it (I10).
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
import type { TokenSet } from "@baton/core";
import * as oauth from "oauth4webapi";
import { describeThrown, LoginFailed, safeErrorCode, safeServerText } from "./errors.ts";
import { TransportError } from "./http.ts";
import { toTokenSet } from "./token-response.ts";

export interface LoginResult {
  readonly tokens: TokenSet;
  /** Claims of the ID token, validated by oauth4webapi (issuer, audience, expiry), when the server sent one. */
  readonly idTokenClaims: Readonly<Record<string, unknown>> | undefined;
}

/** Builds the result of a successful grant, or says why its tokens cannot be used. */
export const loginResult = (
  json: oauth.TokenEndpointResponse,
  requestedScope: string | undefined,
): LoginResult | LoginFailed => {
  const tokens = toTokenSet(json);
  if (typeof tokens === "string") {
    return new LoginFailed({ reason: "malformed_response", message: `the token endpoint answered, but ${tokens}` });
  }
  const claims = oauth.getValidatedIdTokenClaims(json);
  return {
    tokens: { ...tokens, scope: tokens.scope ?? requestedScope },
    idTokenClaims: claims === undefined ? undefined : { ...claims },
  };
};

const statusOf = (error: unknown): number | undefined => {
  if (error instanceof oauth.ResponseBodyError) return error.status;
  if (error instanceof oauth.OperationProcessingError && error.cause instanceof Response) return error.cause.status;
  return undefined;
};

/** Maps what a grant request or its processing threw. `step` names it in the message ("exchanging the code"). */
export const grantFailure = (error: unknown, step: string, secrets: ReadonlyArray<string>): LoginFailed => {
  if (error instanceof LoginFailed) return error;
  if (error instanceof TransportError) {
    return new LoginFailed({ reason: "network", message: `${step} failed: ${error.message}` });
  }
  const status = statusOf(error);
  if (status !== undefined && (status >= 500 || status === 429)) {
    return new LoginFailed({ reason: "server_error", message: `${step} failed: the server answered HTTP ${status}` });
  }
  if (error instanceof oauth.ResponseBodyError) {
    const code = safeErrorCode(error.error);
    const description = safeServerText(error.error_description, secrets);
    return new LoginFailed({
      reason: "token_error",
      message: `${step} failed: ${code ?? "error"}${description === undefined ? "" : ` (${description})`}`,
      ...(code === undefined ? {} : { error: code }),
      ...(description === undefined ? {} : { errorDescription: description }),
    });
  }
  if (status !== undefined) {
    return new LoginFailed({ reason: "token_error", message: `${step} failed: the server answered HTTP ${status}` });
  }
  return new LoginFailed({
    reason: "malformed_response",
    message: `${step} failed: ${safeServerText(describeThrown(error), secrets) ?? "invalid answer"}`,
  });
};
