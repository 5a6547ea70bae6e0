/**
 * `baton token REF --json`: the access token and what a caller needs to cache it, all from one read of the account's
 * credentials (a separate `status` call could see another generation):
 *
 *   { "access_token", "token_type", "expires_at" (RFC 3339, UTC), "expires_in" (whole seconds from now, ≥ 0),
 *     "scope" (null when none was granted), "account" (PROVIDER:ACCOUNT) }
 *
 * The one JSON output of baton that carries a token (SPEC I8's exception). docs/cli.md documents it.
 */
import type { BrokerWire } from "@baton/adapters";
import type { Credentials } from "@baton/core";
import { rfc3339 } from "./hand-out.ts";

/** Its type is the broker's (a hand-out starts with these fields), so the two cannot drift apart. */
export type TokenJson = BrokerWire.TokenJson;

export const tokenJson = (account: string, credentials: Credentials, now: number): TokenJson => ({
  access_token: credentials.accessToken,
  token_type: credentials.tokenType,
  expires_at: rfc3339(credentials.expiresAt),
  expires_in: Math.max(0, Math.floor((credentials.expiresAt - now) / 1000)),
  scope: credentials.scope ?? null,
  account,
});

export const formatTokenJson = (value: TokenJson): string => `${JSON.stringify(value, null, 2)}\n`;
