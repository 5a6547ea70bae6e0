/**
 * The shared state of an in-memory baton "world": the stores, lock table, claims and process table that several
 * simulated processes share, plus the change notifications that wake waiting followers. Used by the tests, by the
 * property tests (with a fast-check scheduler deciding interleavings through {@link Interleaving}) and by embedders
 * who want baton without a disk.
 */
import { Context, Effect } from "effect";
import type { Credentials } from "../credentials.ts";
import type { AccountEvent, DiagnosticNote } from "../events.ts";
import type { ClaimRecord } from "../ports/claim-store.ts";

/** A yield point before each port operation; the property tests let fast-check's scheduler decide what runs next. */
export interface InterleavingShape {
  readonly pause: (label: string) => Effect.Effect<void>;
}

export const Interleaving = Context.Reference<InterleavingShape>("@baton/core/memory/Interleaving", {
  defaultValue: () => ({ pause: () => Effect.void }),
});

export const pause = (label: string): Effect.Effect<void> =>
  Effect.gen(function* () {
    const interleaving = yield* Interleaving;
    yield* interleaving.pause(label);
  });

export interface LeaseState {
  readonly id: number;
  readonly pid: number;
  lost: boolean;
  released: boolean;
}

export interface MemoryWorld {
  readonly host: string;
  readonly secrets: Map<string, Credentials>;
  /** Every successful secret write, in order: the I2 audit trail. */
  readonly secretWrites: Array<{ readonly account: string; readonly generation: number; readonly pid: number }>;
  /** Every removal: the I4 audit trail. */
  readonly secretRemovals: Array<{ readonly account: string; readonly pid: number }>;
  readonly events: Map<string, Array<AccountEvent>>;
  readonly notes: Map<string, Array<DiagnosticNote>>;
  readonly claims: Map<string, Map<string, ClaimRecord>>;
  /** Claims granted and not yet given up, as `account|generation|attempt|pid` (a process's in-process registry). */
  readonly liveClaims: Set<string>;
  /** Current lock holders per account (more than one only after a lease was taken over). */
  readonly locks: Map<string, Array<LeaseState>>;
  readonly alive: Set<number>;
  /** Decides, when a live holder has the lock, whether its lease "expires" and is taken over (a fault). */
  stealLease: (account: string, requesterPid: number) => boolean;
  /** Fault injection: the next this-many secret writes fail as if the disk were full (ENOSPC). */
  failSecretWrites: number;
  /** Bumped on every change to a store or lock; waiters compare against it. */
  version: number;
  readonly waiters: Set<() => void>;
  nextLeaseId: number;
}

export const makeWorld = (host = "memory-host"): MemoryWorld => ({
  host,
  secrets: new Map(),
  secretWrites: [],
  secretRemovals: [],
  events: new Map(),
  notes: new Map(),
  claims: new Map(),
  liveClaims: new Set(),
  locks: new Map(),
  alive: new Set(),
  stealLease: () => false,
  failSecretWrites: 0,
  version: 0,
  waiters: new Set(),
  nextLeaseId: 1,
});

/** Records a change and wakes every waiter. */
export const notifyChange = (world: MemoryWorld): void => {
  world.version += 1;
  const waiters = [...world.waiters];
  world.waiters.clear();
  for (const wake of waiters) wake();
};

/** A yield point followed by a synchronous operation on the world. */
export const atPause = <A>(label: string, operation: () => A): Effect.Effect<A> =>
  Effect.flatMap(pause(label), () => Effect.sync(operation));
