/**
 * The glue between a registered provider and oauth4webapi: the `AuthorizationServer` and `Client` objects, the
 * client authentication (RFC 6749 §2.3.1), and the per-request options (transport, loopback-only insecure HTTP).
 *
 * Client authentication: a public client (no secret; native apps, RFC 8252 §8.4) sends only `client_id` (`None`).
 * A confidential client uses HTTP Basic (`client_secret_basic`, the method every server must support, RFC 6749
 * §2.3.1) unless the server's metadata lists only `client_secret_post`.
 *
 * `allowInsecureRequests` is set only for plain-http issuers on a loopback host (the local test server); the stored
 * metadata was checked to hold only https or loopback URLs (see ../config/provider-config.ts).
 */
import * as oauth from "oauth4webapi";
import { isLoopbackHttp, type ProviderMetadata } from "../config/provider-config.ts";
import { type Exchange, type HttpOptions, makeFetch, newExchange } from "./http.ts";

/** Everything needed to talk to one provider's endpoints as one client. */
export interface OAuthTarget {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret?: string | undefined;
  readonly metadata: ProviderMetadata;
  /** Extra authorization request parameters the provider needs (stored with it; see provider-presets.ts). */
  readonly authorizationParameters?: Readonly<Record<string, string>> | undefined;
}

export const authorizationServer = (target: OAuthTarget): oauth.AuthorizationServer => {
  const metadata: Record<string, oauth.JsonValue> = {};
  for (const [key, value] of Object.entries(target.metadata)) {
    if (typeof value === "string" || typeof value === "boolean") metadata[key] = value;
    else if (Array.isArray(value)) metadata[key] = value.filter((item): item is string => typeof item === "string");
  }
  return { ...metadata, issuer: target.issuer };
};

export const client = (target: OAuthTarget): oauth.Client => ({ client_id: target.clientId });

export const clientAuthentication = (target: OAuthTarget): oauth.ClientAuth => {
  if (target.clientSecret === undefined) return oauth.None();
  const methods = target.metadata.token_endpoint_auth_methods_supported;
  const postOnly = methods?.includes("client_secret_post") === true && !methods.includes("client_secret_basic");
  return postOnly ? oauth.ClientSecretPost(target.clientSecret) : oauth.ClientSecretBasic(target.clientSecret);
};

export interface RequestOptions {
  [oauth.customFetch]: (url: string, init: oauth.CustomFetchOptions<string, unknown>) => Promise<Response>;
  [oauth.allowInsecureRequests]?: boolean;
  signal?: AbortSignal;
}

/**
 * Options for one oauth4webapi call against `issuer`: the transport (recording into `exchange`), insecure HTTP only
 * on loopback, and the caller's abort signal (Effect interruption).
 */
export const requestOptions = (
  issuer: string,
  http: HttpOptions = {},
  exchange: Exchange = newExchange(),
  signal?: AbortSignal,
): RequestOptions => {
  const fetch = makeFetch(http, exchange);
  return {
    [oauth.customFetch]: (url, init) => fetch(url, init),
    ...(isLoopbackHttp(issuer) ? { [oauth.allowInsecureRequests]: true } : {}),
    ...(signal === undefined ? {} : { signal }),
  };
};
