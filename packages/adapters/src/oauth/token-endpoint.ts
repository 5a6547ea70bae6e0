/**
 * The core's `TokenEndpoint` port on oauth4webapi: the refresh grant (RFC 6749 §6) sent with
 * `refreshTokenGrantRequest` and processed with `processRefreshTokenResponse`, every failure classified into a
 * `TokenEndpointFailure` (see token-response.ts for the table), and token introspection (RFC 7662) of a refresh token
 * to resolve an in-doubt refresh. The clock skew against the server is measured from each answer's `Date` header
 * (policy.ts `clockSkew`) and travels with the result or the failure.
 *
 * The request never carries `scope`: RFC 6749 §6 then grants exactly the original scope, so a refresh never asks for
 * more (I10). Tokens go only to the provider registered for the account, and only if the request's issuer and client
 * are the registered ones (I10); otherwise the failure is `issuer_mismatch` and nothing is sent. Endpoints and the
 * client secret come from the provider registry (`<home>/config.json`); a provider registered without stored
 * metadata is discovered once per process before its first refresh.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
import {
  clockSkew,
  type IntrospectionOutcome,
  type RefreshRequest,
  TokenEndpoint,
  TokenEndpointFailure,
  type TokenEndpointShape,
  type TokenSet,
} from "@baton/core";
import { Clock, Effect, Layer } from "effect";
import * as oauth from "oauth4webapi";
import { type StoredProvider, storedProvider } from "../config/provider-config.ts";
import { RegistryStore, readingLastGood } from "../config/provider-registry.ts";
import { authorizationServer, client, clientAuthentication, type OAuthTarget, requestOptions } from "./client.ts";
import { discover } from "./discovery.ts";
import { type Exchange, type HttpOptions, newExchange } from "./http.ts";
import { classifyThrown, processRefreshAnswer } from "./token-response.ts";

export type TokenEndpointOptions = HttpOptions;

/**
 * Sends the refresh grant. Resolves with whatever the server answered; rejects only when no complete answer came
 * (a `TransportError`, with `exchange` telling whether the request was sent).
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
export const sendRefreshRequest = (
  target: OAuthTarget,
  refreshToken: string,
  exchange: Exchange,
  http: HttpOptions = {},
  signal?: AbortSignal,
): Promise<Response> =>
  oauth.refreshTokenGrantRequest(
    authorizationServer(target),
    client(target),
    clientAuthentication(target),
    refreshToken,
    requestOptions(target.issuer, http, exchange, signal),
  );

/** One line for BATON_DEBUG: where, and how long each phase took. No token, no body. */
const describeExchange = (target: OAuthTarget, exchange: Exchange): string => {
  const since = (at: number | undefined) =>
    at === undefined || exchange.startedAt === undefined ? "-" : `${at - exchange.startedAt} ms`;
  return `refresh grant to ${target.metadata.token_endpoint}: connected ${since(exchange.connectedAt)}, sent ${since(exchange.sentAt)}, answered ${since(exchange.respondedAt)}, status ${exchange.status ?? "-"}`;
};

/** Presents `request.refreshToken` to `target` once and classifies the outcome. */
export const refresh = (
  target: OAuthTarget,
  request: RefreshRequest,
  http: HttpOptions = {},
): Effect.Effect<TokenSet, TokenEndpointFailure> =>
  Effect.gen(function* () {
    if (request.refreshToken.length === 0) {
      return yield* new TokenEndpointFailure({
        reason: "oauth_error",
        processed: "no",
        message: "there is no refresh token to present",
      });
    }
    const secrets = [request.refreshToken];
    const exchange = newExchange();
    const response = yield* Effect.tryPromise({
      try: (signal) => sendRefreshRequest(target, request.refreshToken, exchange, http, signal),
      catch: (error) => classifyThrown(error, exchange, secrets),
    }).pipe(Effect.ensuring(Effect.suspend(() => Effect.logDebug(describeExchange(target, exchange)))));
    const now = yield* Clock.currentTimeMillis;
    const clockSkewMs = measuredSkew(response, exchange);
    const outcome = yield* Effect.promise(() =>
      processRefreshAnswer(target, response, { requestedScope: request.scope, secrets, now, clockSkewMs }),
    );
    if (outcome instanceof TokenEndpointFailure) return yield* withSkew(outcome, clockSkewMs);
    return clockSkewMs === undefined ? outcome : { ...outcome, clockSkewMs };
  });

/** This machine's clock minus the server's, from the answer's `Date` header and the exchange's times. */
const measuredSkew = (response: Response, exchange: Exchange): number | undefined => {
  const date = Date.parse(response.headers.get("date") ?? "");
  const sentAt = exchange.sentAt ?? exchange.startedAt;
  if (!Number.isFinite(date) || sentAt === undefined || exchange.respondedAt === undefined) return undefined;
  return Math.round(clockSkew(date, sentAt, exchange.respondedAt));
};

const withSkew = (failure: TokenEndpointFailure, clockSkewMs: number | undefined): TokenEndpointFailure =>
  clockSkewMs === undefined
    ? failure
    : new TokenEndpointFailure({
        reason: failure.reason,
        processed: failure.processed,
        message: failure.message,
        ...(failure.status === undefined ? {} : { status: failure.status }),
        ...(failure.error === undefined ? {} : { error: failure.error }),
        ...(failure.errorDescription === undefined ? {} : { errorDescription: failure.errorDescription }),
        ...(failure.retryAfterMs === undefined ? {} : { retryAfterMs: failure.retryAfterMs }),
        clockSkewMs,
      });

/**
 * Asks `target`'s introspection endpoint whether `refreshToken` is still active (RFC 7662 §2). "unavailable" when the
 * provider advertises none, refuses this client, or answers anything unusable — never a failure: the caller then
 * falls back to the provider's grace window.
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2.1
 */
export const introspect = (
  target: OAuthTarget,
  refreshToken: string,
  http: HttpOptions = {},
): Effect.Effect<IntrospectionOutcome> => {
  if (typeof target.metadata.introspection_endpoint !== "string") return Effect.succeed("unavailable");
  return Effect.tryPromise({
    try: async (signal) => {
      const response = await oauth.introspectionRequest(
        authorizationServer(target),
        client(target),
        clientAuthentication(target),
        refreshToken,
        {
          ...requestOptions(target.issuer, http, newExchange(), signal),
          additionalParameters: { token_type_hint: "refresh_token" },
        },
      );
      const answer = await oauth.processIntrospectionResponse(authorizationServer(target), client(target), response);
      return answer.active === true ? ("active" as const) : ("inactive" as const);
    },
    catch: () => "unavailable" as const,
  }).pipe(
    Effect.orElseSucceed(() => "unavailable" as const),
    Effect.tap((outcome) => Effect.logDebug(`introspection at ${target.metadata.introspection_endpoint}: ${outcome}`)),
  );
};

/** Finds where and as whom a request may be presented. */
export type ResolveTarget = (request: RefreshRequest) => Effect.Effect<OAuthTarget, TokenEndpointFailure>;

export const make = (resolve: ResolveTarget, http: HttpOptions = {}): TokenEndpointShape => ({
  refresh: (request) => Effect.flatMap(resolve(request), (target) => refresh(target, request, http)),
  introspect: (request) =>
    resolve(request).pipe(
      Effect.flatMap((target) => introspect(target, request.refreshToken, http)),
      Effect.orElseSucceed(() => "unavailable" as const),
    ),
});

const notSent = (message: string, reason: "issuer_mismatch" | "network" = "issuer_mismatch") =>
  new TokenEndpointFailure({ reason, processed: "no", message });

/** Checks the request against the registered provider (I10) and fills in its endpoints. */
const resolveFrom = (
  provider: StoredProvider | undefined,
  request: RefreshRequest,
  discovered: Map<string, OAuthTarget["metadata"]>,
  http: HttpOptions,
): Effect.Effect<OAuthTarget, TokenEndpointFailure> => {
  const name = request.account.provider;
  if (provider === undefined) {
    return Effect.fail(notSent(`provider "${name}" is not registered; refusing to send its refresh token anywhere`));
  }
  if (provider.issuer !== request.issuer || provider.clientId !== request.clientId) {
    return Effect.fail(
      notSent(
        `the credentials of ${name} were issued by ${request.issuer} to client ${request.clientId}, but the registered provider is ${provider.issuer} / ${provider.clientId}; refusing to send the refresh token`,
      ),
    );
  }
  const base = { issuer: provider.issuer, clientId: provider.clientId, clientSecret: provider.clientSecret };
  const known = provider.metadata ?? discovered.get(provider.issuer);
  if (known !== undefined) return Effect.succeed({ ...base, metadata: known });
  return discover(provider.issuer, http).pipe(
    Effect.mapError((error) => notSent(`discovery before the refresh failed: ${error.message}`, "network")),
    Effect.filterOrFail(
      (found) => found.issuer === provider.issuer,
      () => notSent(`discovery of ${provider.issuer} answered a different issuer`),
    ),
    Effect.tap((found) => Effect.sync(() => discovered.set(provider.issuer, found.metadata))),
    Effect.map((found) => ({ ...base, metadata: found.metadata })),
  );
};

/**
 * `TokenEndpoint` for the providers of the registry in use (`RegistryStore`: `<home>/config.json`, or the shared
 * store's). Each refresh reads the registry (a malformed one fails it before anything is sent), keeping the last good
 * version if it has become unreadable.
 */
export const layer = (options: TokenEndpointOptions = {}): Layer.Layer<TokenEndpoint, never, RegistryStore> =>
  Layer.effect(
    TokenEndpoint,
    Effect.gen(function* () {
      const discovered = new Map<string, OAuthTarget["metadata"]>();
      const current = readingLastGood(yield* RegistryStore).pipe(
        Effect.mapError(
          (error) =>
            new TokenEndpointFailure({
              reason: "network",
              processed: "no",
              message: `nothing was sent: the provider registry cannot be read (${error.message})`,
            }),
        ),
      );
      return TokenEndpoint.of(
        make(
          (request) =>
            Effect.flatMap(current, (config) =>
              resolveFrom(storedProvider(config, request.account.provider), request, discovered, options),
            ),
          options,
        ),
      );
    }),
  );

export const layerFromProviders = (
  providers: ReadonlyArray<StoredProvider>,
  options: TokenEndpointOptions = {},
): Layer.Layer<TokenEndpoint> => {
  const discovered = new Map<string, OAuthTarget["metadata"]>();
  const byName = new Map(providers.map((provider) => [provider.name, provider]));
  return Layer.succeed(
    TokenEndpoint,
    TokenEndpoint.of(
      make((request) => resolveFrom(byName.get(request.account.provider), request, discovered, options), options),
    ),
  );
};
