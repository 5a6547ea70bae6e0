/**
 * The refresh protocol's tunables, test hooks and (for mutation testing only) deliberately broken variants, as
 * Effect references with safe defaults, so a host overrides only what it needs with `Effect.provideService`.
 */
import { Context, Effect } from "effect";
import type { AccountRef } from "../account.ts";
import { DEFAULT_THRESHOLD_MS } from "../policy.ts";

export interface RefreshSettingsShape {
  /** Refresh when less than this remains (adapted to short lifetimes, see policy.ts). */
  readonly thresholdMs: number;
  /** How long a follower waits for the lock before failing with a retryable error (I6). */
  readonly lockWaitMs: number;
  /** Safety-net wake-up while waiting, in case a change notification is missed. Notifications are the primary path. */
  readonly watchFallbackMs: number;
  /** How long persisting new credentials is retried (lock held, credentials in memory) before giving up. */
  readonly persistRetryMs: number;
  /** A presented claim by a process on another host counts as in flight for this long (no liveness check there). */
  readonly remoteInFlightMs: number;
}

export const RefreshSettings = Context.Reference<RefreshSettingsShape>("@baton/core/RefreshSettings", {
  defaultValue: () => ({
    thresholdMs: DEFAULT_THRESHOLD_MS,
    lockWaitMs: 60_000,
    watchFallbackMs: 500,
    persistRetryMs: 60_000,
    remoteInFlightMs: 120_000,
  }),
});

/** Named points of the protocol where tests inject pauses, crashes or delays. */
export type ProtocolPoint = "locked" | "claimed" | "presenting" | "answered" | "persisted";

export interface ProtocolHooksShape {
  readonly at: (point: ProtocolPoint, account: AccountRef) => Effect.Effect<void>;
}

export const ProtocolHooks = Context.Reference<ProtocolHooksShape>("@baton/core/ProtocolHooks", {
  defaultValue: () => ({ at: () => Effect.void }),
});

/**
 * Deliberately broken protocol variants. They exist only so the property tests can show that they catch each
 * mistake (a test that cannot fail proves nothing). Never set outside tests.
 */
export interface ProtocolVariantShape {
  /** Present without taking the exclusive claim (lock only). */
  readonly skipClaim: boolean;
  /** Decide under the lock from what was read before taking it. */
  readonly skipRereadUnderLock: boolean;
  /** Delete the credentials on `invalid_grant` instead of re-reading and keeping them. */
  readonly blankOnInvalidGrant: boolean;
}

export const ProtocolVariant = Context.Reference<ProtocolVariantShape>("@baton/core/ProtocolVariant", {
  defaultValue: () => ({ skipClaim: false, skipRereadUnderLock: false, blankOnInvalidGrant: false }),
});

/** Told about every generation this process itself rotated and stored (the Tokens service uses it for events). */
export interface RotationObserverShape {
  readonly rotated: (account: AccountRef, generation: number) => void;
}

export const RotationObserver = Context.Reference<RotationObserverShape>("@baton/core/RotationObserver", {
  defaultValue: () => ({ rotated: () => undefined }),
});
