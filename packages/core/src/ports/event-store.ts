/**
 * Port: the append-only event stream of each account. The store assigns per-stream sequence numbers, checksums each
 * record, truncates a torn tail (recording a `log.repaired` event) and quarantines corruption (I7). Appends are made
 * under the account lock by the protocol; a store must still never lose or interleave records if two processes append
 * at once (the replay then flags duplicate sequence numbers as an anomaly).
 */
import { Context, type Effect } from "effect";
import type { AccountRef } from "../account.ts";
import type { StoreFailure } from "../errors.ts";
import type { AccountEvent, NewAccountEvent } from "../events.ts";

export interface EventStoreShape {
  /** Appends events durably, numbering them after the last stored one; returns them as stored. */
  readonly append: (
    account: AccountRef,
    events: ReadonlyArray<NewAccountEvent>,
  ) => Effect.Effect<ReadonlyArray<AccountEvent>, StoreFailure>;
  /** The whole stream, oldest first. */
  readonly read: (account: AccountRef) => Effect.Effect<ReadonlyArray<AccountEvent>, StoreFailure>;
  /** Every account that has a stream. */
  readonly accounts: () => Effect.Effect<ReadonlyArray<AccountRef>, StoreFailure>;
}

export class EventStore extends Context.Service<EventStore, EventStoreShape>()("@baton/core/EventStore") {}
