/**
 * The broker's brake on refused client tokens: each source (a TCP peer's address; every unix-socket caller is one
 * source, "unix") may be refused `limit` times within `windowMs`; after that, every request from it is answered 429
 * with `Retry-After` until its oldest refusal leaves the window — without looking at its token, so guessing gains
 * nothing from the time either. A 256-bit client token cannot be guessed anyway: the brake keeps a misconfigured or
 * hostile client from costing the broker work and filling its log. Bounded memory: at most `maxSources` sources are
 * tracked, the least recently refused forgotten first.
 */

export interface FailureLimiterOptions {
  readonly limit: number;
  readonly windowMs: number;
  readonly maxSources: number;
}

export const DEFAULT_LIMITS: FailureLimiterOptions = { limit: 20, windowMs: 60_000, maxSources: 10_000 };

export class FailureLimiter {
  /** Refusal times per source, oldest first; Map order is the order sources were last refused. */
  private readonly failures = new Map<string, Array<number>>();

  constructor(private readonly options: FailureLimiterOptions = DEFAULT_LIMITS) {}

  private recent(source: string, now: number): Array<number> {
    const times = (this.failures.get(source) ?? []).filter((at) => now - at < this.options.windowMs);
    if (times.length === 0) this.failures.delete(source);
    else this.failures.set(source, times);
    return times;
  }

  /** How long `source` must wait before it is heard again (ms), or 0 when it may be heard now. */
  blockedFor(source: string, now: number): number {
    const times = this.recent(source, now);
    if (times.length < this.options.limit) return 0;
    const oldest = times[times.length - this.options.limit] ?? now;
    return Math.max(1, oldest + this.options.windowMs - now);
  }

  /** Records a refusal of `source`'s client token. */
  refused(source: string, now: number): void {
    const times = this.recent(source, now);
    times.push(now);
    this.failures.delete(source);
    this.failures.set(source, times.slice(-this.options.limit));
    if (this.failures.size > this.options.maxSources) {
      const [least] = this.failures.keys();
      if (least !== undefined) this.failures.delete(least);
    }
  }
}
