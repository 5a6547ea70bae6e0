/**
 * The expiry baton announces to a client that caches a token until then (git's `password_expiry_utc`, kubectl's
 * `expirationTimestamp`): the token's real expiry minus a skew margin, so a client whose clock runs a little ahead,
 * or whose request is slow, never presents an expired token. For a provider whose refresh revokes the access token it
 * replaces (GitLab), a cached token dies as soon as any process refreshes — at expiry minus the refresh threshold —
 * so the announced expiry is that moment instead.
 */
import { effectiveThreshold } from "@baton/core";

/** At most one minute, and at most a tenth of a short token's lifetime. */
export const SKEW_MARGIN_MS = 60_000;

export const handOutExpiry = (
  token: { readonly obtainedAt: number; readonly expiresAt: number },
  revokesAccessTokenOnRefresh: boolean,
): number => {
  const lifetime = Math.max(0, token.expiresAt - token.obtainedAt);
  const skew = Math.min(SKEW_MARGIN_MS, lifetime * 0.1);
  const margin = revokesAccessTokenOnRefresh ? Math.max(skew, effectiveThreshold(lifetime)) : skew;
  return Math.max(token.obtainedAt, Math.floor(token.expiresAt - margin));
};

/** RFC 3339 in UTC with whole seconds (rounded down): `2026-12-04T18:43:00Z`. */
export const rfc3339 = (ms: number): string =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
