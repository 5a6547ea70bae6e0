/**
 * Counts what the local authorization server did, from oidc-provider's events, so tests can assert "exactly one
 * refresh" or "reuse was detected" without parsing logs.
 *
 * Event sources (oidc-provider 9.13.3):
 * - `grant.success` (token endpoint answered 200): `refreshGrants` when `grant_type` was `refresh_token`.
 * - `grant.error` (token endpoint answered an OAuth error): `reuseErrors` when a `refresh_token` grant got
 *   `invalid_grant` — the reused token itself, and afterwards any token of the revoked family.
 * - `grant.revoked`: `grantsRevoked` (reuse detection revokes the grant; so does revoking a refresh token).
 * - `authorization.success` on the device verification routes: `deviceApprovals`.
 * - `authorization_code.saved`: `authorizationCodes` issued.
 * `tokenRequests` is counted by the token endpoint middleware: every POST that reached the token endpoint, including
 * those answered by an injected fault.
 */
import type Provider from "oidc-provider";
import type { KoaContextWithOIDC } from "oidc-provider";

export interface ServerCounters {
  /** Successful refresh_token grants. */
  readonly refreshGrants: number;
  /** refresh_token grants answered `invalid_grant` (a reused, revoked, expired or unknown refresh token). */
  readonly reuseErrors: number;
  /** Grants revoked (reuse detection, or revocation of a refresh token). */
  readonly grantsRevoked: number;
  /** POST requests to the token endpoint, including those answered by an injected fault. */
  readonly tokenRequests: number;
  /** Device codes approved by a user. */
  readonly deviceApprovals: number;
  /** Authorization codes issued. */
  readonly authorizationCodes: number;
}

export type CounterName = keyof ServerCounters;

export interface CounterBoard {
  increment(name: CounterName): void;
  snapshot(): ServerCounters;
  reset(): void;
}

function zeroCounters(): Record<CounterName, number> {
  return {
    refreshGrants: 0,
    reuseErrors: 0,
    grantsRevoked: 0,
    tokenRequests: 0,
    deviceApprovals: 0,
    authorizationCodes: 0,
  };
}

export function createCounterBoard(): CounterBoard {
  let counts = zeroCounters();
  return {
    increment(name) {
      counts[name] += 1;
    },
    snapshot() {
      return { ...counts };
    },
    reset() {
      counts = zeroCounters();
    },
  };
}

const DEVICE_VERIFICATION_ROUTES = new Set(["code_verification", "device_resume"]);

function grantTypeOf(ctx: KoaContextWithOIDC): unknown {
  return ctx.oidc.params?.grant_type;
}

/** Subscribes the board to the provider's events. */
export function countProviderEvents(provider: Provider, board: CounterBoard): void {
  provider.on("grant.success", (ctx) => {
    if (grantTypeOf(ctx) === "refresh_token") board.increment("refreshGrants");
  });
  provider.on("grant.error", (ctx, error) => {
    if (grantTypeOf(ctx) === "refresh_token" && error.error === "invalid_grant") board.increment("reuseErrors");
  });
  provider.on("grant.revoked", () => {
    board.increment("grantsRevoked");
  });
  provider.on("authorization.success", (ctx) => {
    if (DEVICE_VERIFICATION_ROUTES.has(ctx.oidc.route)) board.increment("deviceApprovals");
  });
  provider.on("authorization_code.saved", () => {
    board.increment("authorizationCodes");
  });
}
