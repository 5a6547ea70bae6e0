/**
 * The account lifecycle as an XState machine (the pure `replay` fold over an account's event stream is replay.ts).
 *
 * States: `unauthenticated` → `active` (`valid` | `expiring` | `expired`, chosen from the token's times) →
 * `refreshing` → back to `active`, or `inDoubt` (a presented claim without an answer, I9) or `revoked` (login needed).
 * The machine has no timers and reads no clock: every stored event carries its own `at`, and callers who want the
 * state "now" fold one extra `clock.tick` event carrying the current time. `replay(events)` therefore gives the same
 * answer in the running system, in `baton replay` and in the tests.
 */
import { assign, type initialTransition, setup } from "xstate";
import type { Identity } from "./credentials.ts";
import type { AccountEvent } from "./events.ts";
import { DEFAULT_THRESHOLD_MS, freshness } from "./policy.ts";

/** A synthetic, never-stored event that moves the machine's notion of "now". */
export interface ClockTick {
  readonly type: "clock.tick";
  readonly at: number;
}
export type LifecycleEvent = AccountEvent | ClockTick;

export interface ClaimInfo {
  readonly generation: number;
  readonly attempt: number;
  readonly host: string;
  readonly pid: number;
  readonly at: number;
}

export interface LifecycleContext {
  readonly thresholdMs: number;
  /** The time of the latest event folded (events are time as data). */
  readonly now: number;
  /** 0 before the first credentials. */
  readonly generation: number;
  readonly accessFp: string | undefined;
  readonly refreshFp: string | undefined;
  readonly obtainedAt: number;
  readonly expiresAt: number;
  readonly scope: string | undefined;
  readonly lastRefreshAt: number | undefined;
  readonly lastError: { readonly reason: string; readonly at: number } | undefined;
  readonly claim: ClaimInfo | undefined;
  readonly inDoubt: ClaimInfo | undefined;
  readonly revokedReason: "invalid_grant" | "in-doubt" | undefined;
  /** Refresh attempts refused since the last stored generation (backoff, SPEC §3 step 7). */
  readonly failures: number;
  /** The server asked not to be asked again before this time (`Retry-After`), if it did. */
  readonly retryAt: number | undefined;
  /** Who the tokens belong to, from the last login that said. */
  readonly identity: Identity | undefined;
  /** This machine's clock minus the server's at the last stored generation, when measured. */
  readonly clockSkewMs: number | undefined;
  readonly lastSeq: number;
}

export interface LifecycleInput {
  readonly thresholdMs?: number;
}

/**
 * The token's freshness once `event` is applied: a `credentials.stored` brings a new token obtained at the event's
 * time, every event moves "now" to its own time. The machine picks `active`'s leaf from this in the transition itself
 * (guards run before actions), not in an eventless state after it: one microstep per event instead of two, which
 * halves the cost of a fold (docs/performance.md).
 */
const freshnessAfter = (context: LifecycleContext, event: LifecycleEvent) =>
  event.type === "credentials.stored"
    ? freshness({ obtainedAt: event.at, expiresAt: event.expiresAt }, event.at, context.thresholdMs)
    : freshness(context, event.at, context.thresholdMs);

export const lifecycleMachine = setup({
  types: {
    context: {} as LifecycleContext,
    events: {} as LifecycleEvent,
    input: {} as LifecycleInput,
  },
  guards: {
    // The freshness the token will have once the event is applied (see freshnessAfter): guards run before actions.
    expiredAfter: ({ context, event }) => freshnessAfter(context, event) === "expired",
    expiringAfter: ({ context, event }) => freshnessAfter(context, event) === "expiring",
    isNewer: ({ context, event }) => event.type === "credentials.stored" && event.generation > context.generation,
    moved: ({ event }) => event.type === "account.exported" && event.moved,
    notRotated: ({ event }) => event.type === "refresh.resolved" && event.outcome === "not-rotated",
    notRotatedExpired: ({ context, event }) =>
      event.type === "refresh.resolved" &&
      event.outcome === "not-rotated" &&
      freshnessAfter(context, event) === "expired",
    notRotatedExpiring: ({ context, event }) =>
      event.type === "refresh.resolved" &&
      event.outcome === "not-rotated" &&
      freshnessAfter(context, event) === "expiring",
    newerExpired: ({ context, event }) =>
      event.type === "credentials.stored" &&
      event.generation > context.generation &&
      freshnessAfter(context, event) === "expired",
    newerExpiring: ({ context, event }) =>
      event.type === "credentials.stored" &&
      event.generation > context.generation &&
      freshnessAfter(context, event) === "expiring",
  },
  actions: {
    advance: assign(({ context, event }) => ({
      now: event.at,
      lastSeq: event.type === "clock.tick" ? context.lastSeq : event.seq,
    })),
    store: assign(({ context, event }) => {
      if (event.type !== "credentials.stored") return {};
      return {
        now: event.at,
        lastSeq: event.seq,
        generation: event.generation,
        accessFp: event.accessFp,
        refreshFp: event.refreshFp ?? context.refreshFp,
        obtainedAt: event.at,
        expiresAt: event.expiresAt,
        scope: event.scope ?? context.scope,
        lastRefreshAt: event.source === "refresh" ? event.at : context.lastRefreshAt,
        lastError: undefined,
        claim: undefined,
        inDoubt: undefined,
        revokedReason: undefined,
        failures: 0,
        retryAt: undefined,
        identity: event.identity ?? (event.source === "login" ? undefined : context.identity),
        clockSkewMs: event.clockSkewMs,
      };
    }),
    claim: assign(({ event }) =>
      event.type === "refresh.claimed"
        ? {
            now: event.at,
            lastSeq: event.seq,
            claim: {
              generation: event.generation,
              attempt: event.attempt,
              host: event.host,
              pid: event.pid,
              at: event.at,
            },
          }
        : {},
    ),
    fail: assign(({ context, event }) =>
      event.type === "refresh.failed"
        ? {
            now: event.at,
            lastSeq: event.seq,
            claim: undefined,
            lastError: { reason: event.reason, at: event.at },
            failures: context.failures + 1,
            retryAt: event.retryAfterMs === undefined ? context.retryAt : event.at + event.retryAfterMs,
          }
        : {},
    ),
    reject: assign(({ event }) =>
      event.type === "refresh.rejected"
        ? {
            now: event.at,
            lastSeq: event.seq,
            claim: undefined,
            revokedReason: "invalid_grant" as const,
            lastError: { reason: event.error, at: event.at },
          }
        : {},
    ),
    doubt: assign(({ event }) =>
      event.type === "refresh.in-doubt"
        ? {
            now: event.at,
            lastSeq: event.seq,
            claim: undefined,
            inDoubt: { generation: event.generation, attempt: event.attempt, ...event.claimant },
            lastError: { reason: "in-doubt", at: event.at },
          }
        : {},
    ),
    revoke: assign(({ event }) =>
      event.type === "account.revoked"
        ? { now: event.at, lastSeq: event.seq, claim: undefined, revokedReason: event.reason }
        : {},
    ),
    resolve: assign(({ event }) =>
      event.type === "refresh.resolved"
        ? {
            now: event.at,
            lastSeq: event.seq,
            ...(event.outcome === "not-rotated" ? { inDoubt: undefined } : {}),
          }
        : {},
    ),
    clear: assign(({ event }) =>
      event.type === "account.logged-out" || event.type === "account.exported"
        ? {
            now: event.at,
            lastSeq: event.seq,
            accessFp: undefined,
            refreshFp: undefined,
            claim: undefined,
            inDoubt: undefined,
            revokedReason: undefined,
            lastError: undefined,
          }
        : {},
    ),
  },
}).createMachine({
  id: "account",
  context: ({ input }) => ({
    thresholdMs: input.thresholdMs ?? DEFAULT_THRESHOLD_MS,
    now: 0,
    generation: 0,
    accessFp: undefined,
    refreshFp: undefined,
    obtainedAt: 0,
    expiresAt: 0,
    scope: undefined,
    lastRefreshAt: undefined,
    lastError: undefined,
    claim: undefined,
    inDoubt: undefined,
    revokedReason: undefined,
    failures: 0,
    retryAt: undefined,
    identity: undefined,
    clockSkewMs: undefined,
    lastSeq: 0,
  }),
  initial: "unauthenticated",
  on: {
    "account.logged-out": { target: ".unauthenticated", actions: "clear" },
    "account.exported": [{ guard: "moved", target: ".unauthenticated", actions: "clear" }, { actions: "advance" }],
    "refresh.resolved": { actions: "resolve" },
    "lock.waited": { actions: "advance" },
    "log.repaired": { actions: "advance" },
    "clock.tick": { actions: "advance" },
  },
  states: {
    unauthenticated: {
      on: {
        "credentials.stored": [
          { guard: "expiredAfter", target: "#account.active.expired", actions: "store" },
          { guard: "expiringAfter", target: "#account.active.expiring", actions: "store" },
          { target: "#account.active.valid", actions: "store" },
        ],
      },
    },
    active: {
      initial: "valid",
      states: {
        valid: {},
        expiring: {},
        expired: {},
      },
      on: {
        "clock.tick": [
          { guard: "expiredAfter", target: ".expired", actions: "advance" },
          { guard: "expiringAfter", target: ".expiring", actions: "advance" },
          { target: ".valid", actions: "advance" },
        ],
        "credentials.stored": [
          { guard: "newerExpired", target: ".expired", actions: "store" },
          { guard: "newerExpiring", target: ".expiring", actions: "store" },
          { guard: "isNewer", target: ".valid", actions: "store" },
        ],
        "refresh.claimed": { target: "refreshing", actions: "claim" },
        "refresh.failed": [
          { guard: "expiredAfter", target: ".expired", actions: "fail" },
          { guard: "expiringAfter", target: ".expiring", actions: "fail" },
          { target: ".valid", actions: "fail" },
        ],
        "refresh.rejected": { target: "revoked", actions: "reject" },
        "refresh.in-doubt": { target: "inDoubt", actions: "doubt" },
        "account.revoked": { target: "revoked", actions: "revoke" },
      },
    },
    refreshing: {
      on: {
        "credentials.stored": [
          { guard: "newerExpired", target: "#account.active.expired", actions: "store" },
          { guard: "newerExpiring", target: "#account.active.expiring", actions: "store" },
          { guard: "isNewer", target: "#account.active.valid", actions: "store" },
        ],
        "refresh.claimed": { actions: "claim" },
        "refresh.failed": [
          { guard: "expiredAfter", target: "#account.active.expired", actions: "fail" },
          { guard: "expiringAfter", target: "#account.active.expiring", actions: "fail" },
          { target: "#account.active.valid", actions: "fail" },
        ],
        "refresh.rejected": { target: "revoked", actions: "reject" },
        "refresh.in-doubt": { target: "inDoubt", actions: "doubt" },
        "account.revoked": { target: "revoked", actions: "revoke" },
      },
    },
    inDoubt: {
      on: {
        "refresh.resolved": [
          { guard: "notRotatedExpired", target: "#account.active.expired", actions: "resolve" },
          { guard: "notRotatedExpiring", target: "#account.active.expiring", actions: "resolve" },
          { guard: "notRotated", target: "#account.active.valid", actions: "resolve" },
          { actions: "resolve" },
        ],
        "credentials.stored": [
          { guard: "newerExpired", target: "#account.active.expired", actions: "store" },
          { guard: "newerExpiring", target: "#account.active.expiring", actions: "store" },
          { guard: "isNewer", target: "#account.active.valid", actions: "store" },
        ],
        "refresh.claimed": { target: "refreshing", actions: "claim" },
        "refresh.rejected": { target: "revoked", actions: "reject" },
        "account.revoked": { target: "revoked", actions: "revoke" },
      },
    },
    revoked: {
      on: {
        "credentials.stored": [
          { guard: "newerExpired", target: "#account.active.expired", actions: "store" },
          { guard: "newerExpiring", target: "#account.active.expiring", actions: "store" },
          { guard: "isNewer", target: "#account.active.valid", actions: "store" },
        ],
      },
    },
  },
});

export type LifecycleSnapshot = ReturnType<typeof initialTransition<typeof lifecycleMachine>>[0];

/** The user-facing name of a lifecycle state. */
export type LifecycleState =
  | "unauthenticated"
  | "valid"
  | "expiring"
  | "expired"
  | "refreshing"
  | "inDoubt"
  | "revoked";
