/** Timing policies: the adaptive threshold, background jitter, backoff and clock-skew estimation. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  backgroundRefreshAt,
  backoffDelay,
  clockSkew,
  DEFAULT_THRESHOLD_MS,
  effectiveThreshold,
  freshness,
} from "../src/index.ts";

describe("policies", () => {
  it("threshold - should be 5 minutes for an hour-long token", () => {
    expect(effectiveThreshold(3_600_000)).toBe(DEFAULT_THRESHOLD_MS);
  });

  it("threshold - should be a quarter of a short lifetime, never the whole of it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1000, max: 20 * 60_000 }), (lifetime) => {
        const t = effectiveThreshold(lifetime);
        expect(t).toBeLessThanOrEqual(lifetime * 0.25);
        expect(t).toBeLessThanOrEqual(DEFAULT_THRESHOLD_MS);
      }),
    );
  });

  it("freshness - should not refresh a 30 s token on every call", () => {
    const token = { obtainedAt: 0, expiresAt: 30_000 };
    expect(freshness(token, 1_000)).toBe("fresh");
    expect(freshness(token, 20_000)).toBe("fresh");
    expect(freshness(token, 25_000)).toBe("expiring");
    expect(freshness(token, 30_000)).toBe("expired");
  });

  it("background refresh - should fire before the threshold, spread by jitter, never in the past", () => {
    const token = { obtainedAt: 0, expiresAt: 3_600_000 };
    const early = backgroundRefreshAt(token, 0, 0.999);
    const late = backgroundRefreshAt(token, 0, 0);
    expect(late).toBe(3_600_000 - DEFAULT_THRESHOLD_MS);
    expect(early).toBeLessThan(late);
    expect(backgroundRefreshAt(token, 3_599_000, 0.5)).toBe(3_599_000);
  });

  it("backoff - should grow, stay capped and honour Retry-After", () => {
    expect(backoffDelay(1, 1, undefined)).toBe(250);
    expect(backoffDelay(3, 1, undefined)).toBe(1000);
    expect(backoffDelay(30, 1, undefined)).toBe(30_000);
    expect(backoffDelay(1, 0, 5_000)).toBe(5_000);
  });

  it("clock skew - should estimate our offset from the server's Date", () => {
    expect(clockSkew(1_000, 2_000, 2_100)).toBe(1_050);
  });
});
