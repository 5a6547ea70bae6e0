/**
 * The refresh protocol's tunables and extension points, as Effect references with safe defaults, so a host overrides
 * only what it needs with `Effect.provideService`: the timing settings, the named protocol points (where a host or a
 * test may observe or pause the protocol) and the observer of rotations this process made.
 */
import { Context, Effect } from "effect";
import type { AccountRef } from "../account.ts";
import { DEFAULT_THRESHOLD_MS } from "../policy.ts";

export interface RefreshSettingsShape {
  /** Refresh when less than this remains (adapted to short lifetimes, see policy.ts). */
  readonly thresholdMs: number;
  /** How long a follower waits for the lock before failing with a retryable error (I6). Measured monotonically. */
  readonly lockWaitMs: number;
  /** Safety-net wake-up while waiting, in case a change notification is missed. Notifications are the primary path. */
  readonly watchFallbackMs: number;
  /**
   * How long storing a new generation is retried (lock held, credentials in memory, the claim marked rotated) before
   * this process gives up on it: a CLI process holds on for this long; a long-running host passes `Infinity`.
   */
  readonly persistRetryMs: number;
  /** A presented claim by a process whose liveness cannot be probed counts as in flight for this long. */
  readonly remoteInFlightMs: number;
  /**
   * How long after an in-doubt presentation introspection is first asked (a gateway that lost the answer may still
   * be waiting on the server, which may rotate a moment later).
   */
  readonly introspectAfterMs: number;
}

export const RefreshSettings = Context.Reference<RefreshSettingsShape>("@baton/core/RefreshSettings", {
  defaultValue: () => ({
    thresholdMs: DEFAULT_THRESHOLD_MS,
    lockWaitMs: 60_000,
    watchFallbackMs: 500,
    persistRetryMs: 10 * 60_000,
    remoteInFlightMs: 120_000,
    introspectAfterMs: 3_000,
  }),
});

/** Named points of the protocol, in order, where a host may observe (or a test pause) a refresh. */
export type ProtocolPoint = "locked" | "claimed" | "presenting" | "answered" | "persisted";

export interface ProtocolHooksShape {
  readonly at: (point: ProtocolPoint, account: AccountRef) => Effect.Effect<void>;
}

export const ProtocolHooks = Context.Reference<ProtocolHooksShape>("@baton/core/ProtocolHooks", {
  defaultValue: () => ({ at: () => Effect.void }),
});

/** Told about every generation this process itself rotated and stored (the Tokens service uses it for events). */
export interface RotationObserverShape {
  readonly rotated: (account: AccountRef, generation: number) => void;
}

export const RotationObserver = Context.Reference<RotationObserverShape>("@baton/core/RotationObserver", {
  defaultValue: () => ({ rotated: () => undefined }),
});
