/**
 * Port: the authorization server's token endpoint, for the refresh grant. The adapter validates the response
 * (types, `token_type`, scope not widened, RFC 9207 issuer where applicable) and classifies every failure into a
 * {@link TokenEndpointFailure} whose `processed` field tells the protocol whether the claim may be released.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
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

export interface TokenEndpointShape {
  readonly refresh: (request: RefreshRequest) => Effect.Effect<TokenSet, TokenEndpointFailure>;
}

export class TokenEndpoint extends Context.Service<TokenEndpoint, TokenEndpointShape>()("@baton/core/TokenEndpoint") {}
