/**
 * Authorization server metadata discovery: RFC 8414 (`/.well-known/oauth-authorization-server`) first, then OpenID
 * Connect Discovery 1.0 (`/.well-known/openid-configuration`) when the first answers anything but a document, both
 * through oauth4webapi (`discoveryRequest` / `processDiscoveryResponse`, which checks that the document's `issuer`
 * is exactly the one asked for, RFC 8414 §3.3). The result keeps only what baton stores (see ProviderMetadata).
 * An issuer that cannot be reached, or that answers 5xx/429 where the metadata should be, is `Retryable` (reason
 * "network" / "server-error": trying again later may work); every other problem is an `InvalidInput` that names it:
 * no document, issuer mismatch, missing or insecure endpoints.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
 */
import { InvalidInput, Retryable } from "@baton/core";
import { Effect } from "effect";
import * as oauth from "oauth4webapi";
import { isAcceptableEndpoint, type ProviderMetadata, type StoredProvider } from "../config/provider-config.ts";
import type { DiscoveredProvider } from "../config/provider-registry.ts";
import { type OAuthTarget, requestOptions } from "./client.ts";
import { describeThrown, safeServerText } from "./errors.ts";
import type { HttpOptions } from "./http.ts";
import { TransportError } from "./http.ts";

export type DiscoveryAlgorithm = "oauth2" | "oidc";

const WELL_KNOWN: Record<DiscoveryAlgorithm, string> = {
  oauth2: "/.well-known/oauth-authorization-server",
  oidc: "/.well-known/openid-configuration",
};

const invalid = (message: string): InvalidInput => new InvalidInput({ reason: "argument", message });

/**
 * Sends the metadata request for `issuer` with one algorithm. Rejects with a {@link TransportError} when the issuer
 * cannot be reached.
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3.1
 */
export const sendDiscoveryRequest = (
  issuer: URL,
  algorithm: DiscoveryAlgorithm,
  http: HttpOptions = {},
  signal?: AbortSignal,
): Promise<Response> =>
  oauth.discoveryRequest(issuer, { ...requestOptions(issuer.href, http, undefined, signal), algorithm });

const URL_FIELDS = [
  "token_endpoint",
  "authorization_endpoint",
  "device_authorization_endpoint",
  "revocation_endpoint",
  "introspection_endpoint",
] as const;

const stringArray = (value: oauth.JsonValue | undefined): ReadonlyArray<string> | undefined =>
  Array.isArray(value) && value.every((item) => typeof item === "string") ? (value as Array<string>) : undefined;

/**
 * Reduces a validated metadata document to {@link ProviderMetadata}; fails when `token_endpoint` is missing or an
 * endpoint is not https (plain http is accepted only on a loopback host).
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-2
 */
export const toProviderMetadata = (
  document: oauth.AuthorizationServer,
  where: string,
): ProviderMetadata | InvalidInput => {
  const metadata: Record<string, string | boolean | ReadonlyArray<string>> = {};
  if (typeof document.token_endpoint !== "string") {
    return invalid(`the metadata at ${where} has no token_endpoint (RFC 8414 §2), so baton cannot refresh tokens`);
  }
  for (const field of URL_FIELDS) {
    const value = document[field];
    if (value === undefined) continue;
    if (typeof value !== "string" || URL.parse(value) === null) {
      return invalid(`the metadata at ${where} has an invalid ${field}: expected a URL`);
    }
    if (!isAcceptableEndpoint(value)) {
      return invalid(`the metadata at ${where} has a ${field} that is not https; refusing to send tokens there`);
    }
    metadata[field] = value;
  }
  if (typeof document.authorization_response_iss_parameter_supported === "boolean") {
    metadata.authorization_response_iss_parameter_supported = document.authorization_response_iss_parameter_supported;
  }
  const algorithms = stringArray(document.id_token_signing_alg_values_supported);
  if (algorithms !== undefined) metadata.id_token_signing_alg_values_supported = algorithms;
  const methods = stringArray(document.token_endpoint_auth_methods_supported);
  if (methods !== undefined) metadata.token_endpoint_auth_methods_supported = methods;
  return metadata as ProviderMetadata;
};

type Attempt =
  | { readonly _tag: "found"; readonly document: oauth.AuthorizationServer; readonly where: string }
  | { readonly _tag: "absent"; readonly detail: string; readonly status?: number };

/**
 * Processes one metadata response: a document whose `issuer` matches, `absent` when there is no document here
 * (non-200 or not JSON, so the other well-known path is worth trying), or an error for a real mismatch.
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3.2
 */
export const processDiscovery = async (
  issuer: URL,
  algorithm: DiscoveryAlgorithm,
  response: Response,
): Promise<Attempt | InvalidInput> => {
  const where = `${issuer.origin}${WELL_KNOWN[algorithm]}`;
  if (response.status !== 200) {
    await response.body?.cancel();
    return { _tag: "absent", detail: `${WELL_KNOWN[algorithm]}: HTTP ${response.status}`, status: response.status };
  }
  const copy = response.clone();
  try {
    return { _tag: "found", document: await oauth.processDiscoveryResponse(issuer, response), where };
  } catch (error) {
    if (error instanceof oauth.OperationProcessingError && error.code === oauth.JSON_ATTRIBUTE_COMPARISON) {
      const body: unknown = await copy.json().catch(() => undefined);
      const named =
        typeof body === "object" && body !== null && "issuer" in body ? safeServerText(body.issuer) : undefined;
      return invalid(
        `issuer mismatch: the metadata at ${where} names the issuer "${named ?? "?"}", not "${issuer.href}" (RFC 8414 §3.3)`,
      );
    }
    if (error instanceof oauth.OperationProcessingError && error.code === oauth.INVALID_RESPONSE) {
      return invalid(`the metadata at ${where} is invalid: ${describeThrown(error)}`);
    }
    return { _tag: "absent", detail: `${WELL_KNOWN[algorithm]}: not a JSON metadata document` };
  }
};

/** A request that got no answer: retryable when the transport failed, else a problem of the input. */
const unreachable = (issuer: string, error: unknown): InvalidInput | Retryable =>
  error instanceof TransportError
    ? new Retryable({
        account: issuer,
        reason: "network",
        message: `could not reach the issuer ${issuer}: ${error.message}`,
      })
    : invalid(`could not reach the issuer ${issuer}: ${describeThrown(error)}`);

/** 5xx and 429 mean the server is there but not able to answer now. */
const isUnavailable = (status: number | undefined): boolean =>
  status !== undefined && (status >= 500 || status === 429 || status === 408);

/**
 * Discovers `issuer`'s metadata (RFC 8414, then OpenID Connect). The returned issuer is the server's own spelling,
 * which later RFC 9207 `iss` checks compare against exactly.
 */
export const discover = (
  issuer: string,
  http: HttpOptions = {},
): Effect.Effect<DiscoveredProvider, InvalidInput | Retryable> =>
  Effect.gen(function* () {
    const url = URL.parse(issuer);
    if (url === null) return yield* invalid(`"${issuer}" is not a URL`);
    if (!isAcceptableEndpoint(issuer)) {
      return yield* invalid(`the issuer must be an https URL (plain http only on 127.0.0.1, localhost or [::1])`);
    }
    if (url.search !== "" || url.hash !== "") {
      return yield* invalid("the issuer must not have a query or fragment (RFC 8414 §2)");
    }
    const misses: Array<{ readonly detail: string; readonly status?: number | undefined }> = [];
    for (const algorithm of ["oauth2", "oidc"] as const) {
      const attempt = yield* Effect.tryPromise({
        try: async (signal) =>
          processDiscovery(url, algorithm, await sendDiscoveryRequest(url, algorithm, http, signal)),
        catch: (error) => unreachable(issuer, error),
      });
      if (attempt instanceof InvalidInput) return yield* attempt;
      if (attempt._tag === "absent") {
        misses.push(attempt);
        continue;
      }
      const metadata = toProviderMetadata(attempt.document, attempt.where);
      if (metadata instanceof InvalidInput) return yield* metadata;
      const scopesSupported = stringArray(attempt.document.scopes_supported);
      return {
        issuer: attempt.document.issuer,
        metadata,
        ...(scopesSupported === undefined ? {} : { scopesSupported }),
      };
    }
    const details = misses.map((miss) => miss.detail).join("; ");
    if (misses.some((miss) => isUnavailable(miss.status))) {
      return yield* new Retryable({
        account: issuer,
        reason: "server-error",
        message: `the issuer ${issuer} could not answer its metadata now (${details}); try again later`,
      });
    }
    return yield* invalid(`${issuer} publishes no authorization server metadata (${details})`);
  });

/**
 * The OAuth target for a registered provider: its stored metadata, or (for a provider registered without it, e.g.
 * a hand-written config) fresh discovery, which must name the same issuer.
 */
export const targetFor = (
  provider: StoredProvider,
  http: HttpOptions = {},
): Effect.Effect<OAuthTarget, InvalidInput | Retryable> => {
  const base = {
    issuer: provider.issuer,
    clientId: provider.clientId,
    clientSecret: provider.clientSecret,
    authorizationParameters: provider.authorizationParameters,
  };
  if (provider.metadata !== undefined) return Effect.succeed({ ...base, metadata: provider.metadata });
  return Effect.flatMap(discover(provider.issuer, http), (found) =>
    found.issuer === provider.issuer
      ? Effect.succeed({ ...base, metadata: found.metadata })
      : Effect.fail(
          invalid(`discovery of ${provider.issuer} answered the issuer ${found.issuer}; re-add the provider`),
        ),
  );
};
