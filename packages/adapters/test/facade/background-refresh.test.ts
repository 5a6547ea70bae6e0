/**
 * The background refresh timer (facade/background-refresh.ts): it fires at expiry − threshold − jitter, earlier by the
 * host's lead when it has one (a broker refreshes before any client sees the token as due), never before now.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BackgroundRefresh } from "../../src/facade/background-refresh.ts";

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

/** When (ms after now) the timer refreshes `account`, with no jitter. */
const firesAfter = async (leadMs?: (lifetimeMs: number) => number): Promise<number | undefined> => {
  let firedAt: number | undefined;
  const start = Date.now();
  const background = new BackgroundRefresh({
    thresholdMs: 5 * 60_000,
    random: () => 0,
    now: Date.now,
    refresh: async () => {
      firedAt = Date.now();
    },
    onError: () => undefined,
    ...(leadMs === undefined ? {} : { leadMs }),
  });
  // A 6 s token obtained now: its threshold is a quarter of its life, 1.5 s.
  background.schedule("demo:you", { obtainedAt: Date.now(), expiresAt: Date.now() + 6_000 });
  await vi.advanceTimersByTimeAsync(10_000);
  background.close();
  return firedAt === undefined ? undefined : firedAt - start;
};

describe("BackgroundRefresh", () => {
  it("schedule - should refresh at expiry − threshold when the host has no lead", async () => {
    expect(await firesAfter()).toBe(4_500);
  });

  it("schedule - should refresh earlier by the host's lead for the token's lifetime, never before now", async () => {
    expect(await firesAfter((lifetime) => lifetime * 0.1)).toBe(3_900);
    expect(await firesAfter(() => 60_000)).toBe(0);
  });
});
