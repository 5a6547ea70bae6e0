/**
 * Token revocation (RFC 7009) of a refresh token, for `baton logout`: best effort. Revoking a refresh token also
 * invalidates the access tokens of the same grant on servers that support it (RFC 7009 §2.1). The outcome is a plain
 * value — `{ revoked: true }`, or `{ revoked: false, reason }` when the provider has no revocation endpoint, cannot
 * be reached or refuses — and the effect never fails: logout goes on to remove the local secrets either way.
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2
 */
import { Effect } from "effect";
import * as oauth from "oauth4webapi";
import { authorizationServer, client, clientAuthentication, type OAuthTarget, requestOptions } from "./client.ts";
import { describeThrown, safeErrorCode, safeServerText } from "./errors.ts";
import { type HttpOptions, TransportError } from "./http.ts";

export interface RevocationResult {
  readonly revoked: boolean;
  /** Why the token may still be valid at the provider. No token or secret ever appears here. */
  readonly reason?: string;
}

/**
 * Sends the revocation request with `token_type_hint=refresh_token`.
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2.1
 */
export const sendRevocationRequest = (
  target: OAuthTarget,
  refreshToken: string,
  http: HttpOptions = {},
  signal?: AbortSignal,
): Promise<Response> =>
  oauth.revocationRequest(authorizationServer(target), client(target), clientAuthentication(target), refreshToken, {
    ...requestOptions(target.issuer, http, undefined, signal),
    additionalParameters: { token_type_hint: "refresh_token" },
  });

/**
 * Processes the revocation answer: 200 means revoked (also for tokens the server did not know, RFC 7009 §2.2);
 * anything else is a reason.
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2.2
 */
export const processRevocation = async (
  response: Response,
  secrets: ReadonlyArray<string>,
): Promise<RevocationResult> => {
  try {
    await oauth.processRevocationResponse(response);
    return { revoked: true };
  } catch (error) {
    if (error instanceof oauth.ResponseBodyError) {
      const code = safeErrorCode(error.error) ?? "error";
      const description = safeServerText(error.error_description, secrets);
      return {
        revoked: false,
        reason: `the provider refused the revocation (HTTP ${error.status}: ${code}${description === undefined ? "" : `, ${description}`})`,
      };
    }
    return { revoked: false, reason: `the provider answered HTTP ${response.status} to the revocation` };
  }
};

/** Revokes `refreshToken` at `target`, best effort. Never fails. */
export const revoke = (
  target: OAuthTarget,
  refreshToken: string,
  http: HttpOptions = {},
): Effect.Effect<RevocationResult> => {
  if (target.metadata.revocation_endpoint === undefined) {
    return Effect.succeed({ revoked: false, reason: "the provider advertises no revocation_endpoint (RFC 7009)" });
  }
  const secrets = [refreshToken];
  return Effect.tryPromise({
    try: async (signal) => processRevocation(await sendRevocationRequest(target, refreshToken, http, signal), secrets),
    catch: (error) =>
      error instanceof TransportError
        ? `the revocation request failed: ${error.message}`
        : `the revocation request could not be made: ${safeServerText(describeThrown(error), secrets) ?? "error"}`,
  }).pipe(Effect.catch((reason) => Effect.succeed({ revoked: false, reason })));
};
