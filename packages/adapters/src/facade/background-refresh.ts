/**
 * Background refresh for long-running hosts: whenever this process stores or adopts credentials, a timer is set
 * for expiry − threshold − per-process jitter; when it fires, the account is refreshed through the same protocol
 * (a forced refresh that adopts whatever a sibling rotated meanwhile, so many hosts still cause one rotation).
 * A timer that fires late — the machine slept — waits an extra random share of the jitter first, so hosts that wake
 * together do not stampede. Timers are unref'd: they never keep a host alive.
 */
import { backgroundRefreshAt, effectiveThreshold } from "@baton/core";

export interface BackgroundRefreshOptions {
  readonly thresholdMs: number;
  /**
   * How long before the threshold to refresh, for a token living `lifetimeMs` (default: not before). A host that
   * refreshes for others (a broker) leads by about a round trip, so the refresh is done before anyone asking sees the
   * token as due.
   */
  readonly leadMs?: (lifetimeMs: number) => number;
  readonly random: () => number;
  readonly now: () => number;
  readonly refresh: (account: string) => Promise<unknown>;
  readonly onError: (account: string, error: unknown) => void;
}

export class BackgroundRefresh {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly options: BackgroundRefreshOptions) {}

  /** (Re)arms the timer of `account` for credentials obtained at `obtainedAt` and expiring at `expiresAt`. */
  schedule(account: string, token: { readonly obtainedAt: number; readonly expiresAt: number }): void {
    if (this.closed) return;
    this.cancel(account);
    const { now, random, thresholdMs } = this.options;
    const lead = this.options.leadMs?.(token.expiresAt - token.obtainedAt) ?? 0;
    const due = Math.max(now(), backgroundRefreshAt(token, now(), random(), thresholdMs) - lead);
    const jitterMs = effectiveThreshold(token.expiresAt - token.obtainedAt, thresholdMs) * 0.2;
    const timer = setTimeout(
      () => {
        this.timers.delete(account);
        const late = now() - due > 1_000;
        const delay = late ? Math.round(random() * jitterMs) : 0;
        const run = () => {
          if (this.closed) return;
          this.options.refresh(account).catch((error: unknown) => this.options.onError(account, error));
        };
        if (delay > 0) setTimeout(run, delay).unref();
        else run();
      },
      Math.max(0, due - now()),
    );
    timer.unref();
    this.timers.set(account, timer);
  }

  cancel(account: string): void {
    const timer = this.timers.get(account);
    if (timer !== undefined) clearTimeout(timer);
    this.timers.delete(account);
  }

  /** The accounts that have a timer armed (for tests and status). */
  armed(): ReadonlyArray<string> {
    return [...this.timers.keys()];
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
