/**
 * Port: the authorization server's token endpoint, for the refresh grant, and its introspection endpoint for
 * resolving an in-doubt refresh. The adapter sends a refresh token only to the issuer and client named in the request
 * (the ones the credentials were issued by, I10), validates the response and classifies every failure into a
 * {@link TokenEndpointFailure} whose `processed` field tells the protocol whether the claim may be released. An answer
 * that carries a new refresh token is returned as a `TokenSet` even when something else is wrong with it (the
 * rotation happened): what is wrong travels in the set (`withheld`, `problems`).
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2
 */
import { Context, type Effect } from "effect";
import type { AccountRef } from "../account.ts";
import type { TokenSet } from "../credentials.ts";
import type { TokenEndpointFailure } from "../errors.ts";

export interface RefreshRequest {
  readonly account: AccountRef;
  readonly issuer: string;
  readonly clientId: string;
  readonly refreshToken: string;
  /** The scope granted so far; a refresh never asks for more (I10). */
  readonly scope: string | undefined;
}

/**
 * What introspection says of a refresh token: still `active` (the server never consumed it), `inactive` (consumed,
 * expired or revoked), or `unavailable` (the provider offers no introspection to this client, or it failed).
 */
export type IntrospectionOutcome = "active" | "inactive" | "unavailable";

export interface TokenEndpointShape {
  readonly refresh: (request: RefreshRequest) => Effect.Effect<TokenSet, TokenEndpointFailure>;
  /** Asks the issuer's introspection endpoint about `request.refreshToken` (RFC 7662); never fails. */
  readonly introspect: (request: RefreshRequest) => Effect.Effect<IntrospectionOutcome>;
}

export class TokenEndpoint extends Context.Service<TokenEndpoint, TokenEndpointShape>()("@baton/core/TokenEndpoint") {}
