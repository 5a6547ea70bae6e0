/** The brake on refused client tokens (serve/failure-limiter.ts): per source, a sliding window, bounded memory. */
import { describe, expect, it } from "vitest";
import { FailureLimiter } from "../../src/serve/failure-limiter.ts";

describe("FailureLimiter", () => {
  it("blockedFor - should block a source after `limit` refusals until the oldest leaves the window", () => {
    const limiter = new FailureLimiter({ limit: 3, windowMs: 1_000, maxSources: 10 });
    limiter.refused("a", 0);
    limiter.refused("a", 100);
    expect(limiter.blockedFor("a", 200)).toBe(0);
    limiter.refused("a", 200);
    expect(limiter.blockedFor("a", 300)).toBe(700);
    expect(limiter.blockedFor("b", 300)).toBe(0);
    expect(limiter.blockedFor("a", 999)).toBe(1);
    expect(limiter.blockedFor("a", 1_000)).toBe(0);
  });

  it("refused - should forget the least recently refused source beyond `maxSources`", () => {
    const limiter = new FailureLimiter({ limit: 1, windowMs: 10_000, maxSources: 2 });
    limiter.refused("a", 0);
    limiter.refused("b", 1);
    limiter.refused("c", 2);
    expect(limiter.blockedFor("a", 3)).toBe(0);
    expect(limiter.blockedFor("b", 3)).toBeGreaterThan(0);
    expect(limiter.blockedFor("c", 3)).toBeGreaterThan(0);
  });
});
