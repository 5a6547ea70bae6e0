/**
 * Port: where credentials (secrets) live — the OS keychain, a 0600 file, or memory. One record per account holding
 * the current generation. Every write is compare-and-set on the generation the writer read (I2) and durable before it
 * returns (I3). Nothing here ever blanks a record as a side effect of a failure (I4); `remove` is for logout only.
 */
import { Context, Data, type Effect } from "effect";
import type { AccountRef } from "../account.ts";
import type { Credentials } from "../credentials.ts";
import type { StoreFailure } from "../errors.ts";
import type { AccountEvent, NewAccountEvent } from "../events.ts";

/** The stored generation was not the one the writer expected: someone else wrote first. */
export class GenerationConflict extends Data.TaggedError("GenerationConflict")<{
  readonly account: string;
  readonly expected: number;
  readonly found: number;
}> {}

export type StorageKind = "keychain" | "file" | "memory" | "postgres";

export interface SecretStoreShape {
  readonly kind: StorageKind;
  /** The account's current credentials, or `undefined` when none are stored. */
  readonly read: (account: AccountRef) => Effect.Effect<Credentials | undefined, StoreFailure>;
  /**
   * Stores `next` if the stored generation is `expectedGeneration` (0: nothing stored). Durable on success.
   * Fails with {@link GenerationConflict} when another generation is stored, and never overwrites a newer one.
   */
  readonly write: (
    account: AccountRef,
    next: Credentials,
    expectedGeneration: number,
  ) => Effect.Effect<void, StoreFailure | GenerationConflict>;
  /**
   * Optional, for stores that keep the secrets and the event streams in one database: `write`, and `event` appended
   * to the account's stream in the SAME transaction, so that a stored generation and its `credentials.stored` event
   * never exist one without the other. Returns the event as stored. The protocol uses it when the store has it, else
   * `write` followed by `EventStore.append`.
   */
  readonly writeRecorded?: (
    account: AccountRef,
    next: Credentials,
    expectedGeneration: number,
    event: NewAccountEvent,
  ) => Effect.Effect<AccountEvent, StoreFailure | GenerationConflict>;
  /**
   * Checks that a write for `account` would succeed — the keychain is reachable and unlocked, the directory is
   * writable — leaving nothing behind. A login runs it before sending the user to the browser, so a store that cannot
   * keep the new tokens fails before the approval rather than after.
   */
  readonly probe: (account: AccountRef) => Effect.Effect<void, StoreFailure>;
  /** Removes the account's secrets (logout). */
  readonly remove: (account: AccountRef) => Effect.Effect<void, StoreFailure>;
  /** Every account that has secrets. */
  readonly list: () => Effect.Effect<ReadonlyArray<AccountRef>, StoreFailure>;
}

export class SecretStore extends Context.Service<SecretStore, SecretStoreShape>()("@baton/core/SecretStore") {}
