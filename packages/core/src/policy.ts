/**
 * Refresh-timing policies, all pure functions of numbers (time is data here).
 *
 * The refresh threshold is 5 minutes by default and adapts to short lifetimes: a token is "expiring" once less than
 * `min(threshold, lifetime × 25 %)` remains, so a 30-second token is refreshed after ~22 s instead of on every call,
 * while an hour-long token is refreshed 5 minutes before it expires. Background refreshes subtract a per-process jitter
 * so that many hosts waking together do not stampede; backoff after retryable failures is exponential with full
 * jitter and honours `Retry-After`.
 */

/** The default refresh threshold: five minutes before expiry. */
export const DEFAULT_THRESHOLD_MS = 5 * 60 * 1000;

/** The share of a token's lifetime that may be spent "expiring" when the lifetime is short. */
export const SHORT_LIFETIME_FRACTION = 0.25;

/** The threshold that applies to a token living `lifetimeMs`. */
export const effectiveThreshold = (lifetimeMs: number, configuredMs: number = DEFAULT_THRESHOLD_MS): number =>
  Math.max(0, Math.min(configuredMs, lifetimeMs * SHORT_LIFETIME_FRACTION));

/** Where a token stands at `now`. */
export type Freshness = "fresh" | "expiring" | "expired";

export const freshness = (
  token: { readonly obtainedAt: number; readonly expiresAt: number },
  now: number,
  configuredThresholdMs: number = DEFAULT_THRESHOLD_MS,
): Freshness => {
  if (now >= token.expiresAt) return "expired";
  const threshold = effectiveThreshold(token.expiresAt - token.obtainedAt, configuredThresholdMs);
  return now >= token.expiresAt - threshold ? "expiring" : "fresh";
};

/**
 * When a background refresh should fire: expiry − threshold − jitter, where jitter is up to `jitterFraction` of the
 * threshold, drawn from `random` in [0, 1). Never before `now`.
 */
export const backgroundRefreshAt = (
  token: { readonly obtainedAt: number; readonly expiresAt: number },
  now: number,
  random: number,
  configuredThresholdMs: number = DEFAULT_THRESHOLD_MS,
  jitterFraction = 0.2,
): number => {
  const threshold = effectiveThreshold(token.expiresAt - token.obtainedAt, configuredThresholdMs);
  const jitter = threshold * jitterFraction * Math.min(Math.max(random, 0), 1);
  return Math.max(now, token.expiresAt - threshold - jitter);
};

/**
 * Backoff before retry number `attempt` (1-based): full jitter over an exponential ceiling, capped, and never shorter
 * than the server's `Retry-After`.
 */
export const backoffDelay = (
  attempt: number,
  random: number,
  retryAfterMs: number | undefined,
  baseMs = 250,
  capMs = 30_000,
): number => {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = ceiling * Math.min(Math.max(random, 0), 1);
  return Math.max(jittered, retryAfterMs ?? 0);
};

/**
 * Estimated offset of our clock from a server's (positive: we are ahead), from the HTTP `Date` header and the
 * request's send and receive times. Used by `doctor` to warn; never used for safety decisions (I5).
 */
export const clockSkew = (serverDateMs: number, sentAt: number, receivedAt: number): number =>
  (sentAt + receivedAt) / 2 - serverDateMs;
