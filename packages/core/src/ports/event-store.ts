/**
 * Port: the append-only event stream of each account. The store assigns per-stream sequence numbers, checksums each
 * record, truncates a torn tail (recording a `log.repaired` event) and quarantines corruption (I7). Appends are made
 * under the account lock by the protocol; a store must still never lose or interleave records if two processes append
 * at once (the replay then flags duplicate sequence numbers as an anomaly).
 *
 * Beside the stream, each account has diagnostic notes: one secret-free line per process and refresh flight saying
 * what that process did (waited, adopted, served, refreshed, gave up), and one per access token a broker lent out.
 * They are for `replay` and its pictures, not protocol records: written without a sync and without the lock, best
 * effort, never read by the protocol.
 */
import { Context, type Effect } from "effect";
import type { AccountRef } from "../account.ts";
import type { StoreFailure } from "../errors.ts";
import type { AccountEvent, DiagnosticNote, NewAccountEvent } from "../events.ts";
import type { StreamFold } from "../fold-checkpoint.ts";

export interface EventStoreShape {
  /** Appends events durably, numbering them after the last stored one; returns them as stored. */
  readonly append: (
    account: AccountRef,
    events: ReadonlyArray<NewAccountEvent>,
  ) => Effect.Effect<ReadonlyArray<AccountEvent>, StoreFailure>;
  /** The whole stream, oldest first. */
  readonly read: (account: AccountRef) => Effect.Effect<ReadonlyArray<AccountEvent>, StoreFailure>;
  /**
   * The fold of the whole stream with `thresholdMs` (not evaluated at any "now") and its length: exactly
   * `resumeFold(undefined, yield* read(account), thresholdMs)`. A store may resume it from a checkpoint it keeps of a
   * prefix of the stream (fold-checkpoint.ts), once it has proved the prefix unchanged. `purpose` says who asks: a
   * `"refresh"` holds the account lock and is about to make a network call, so a new checkpoint is cheap next to it;
   * a `"read"` (status over many accounts) is better served when checkpoints are written only where they pay off.
   */
  readonly fold: (
    account: AccountRef,
    thresholdMs: number,
    purpose: FoldPurpose,
  ) => Effect.Effect<StreamFold, StoreFailure>;
  /** Every account that has a stream. */
  readonly accounts: () => Effect.Effect<ReadonlyArray<AccountRef>, StoreFailure>;
  /** Appends a diagnostic note (unsynced, best effort: a failure is ignored). */
  readonly note: (account: AccountRef, note: DiagnosticNote) => Effect.Effect<void>;
  /** The account's diagnostic notes, oldest first (unreadable lines skipped). */
  readonly notes: (account: AccountRef) => Effect.Effect<ReadonlyArray<DiagnosticNote>, StoreFailure>;
}

/** Who folds a stream (see `EventStoreShape.fold`). */
export type FoldPurpose = "refresh" | "read";

export class EventStore extends Context.Service<EventStore, EventStoreShape>()("@baton/core/EventStore") {}
