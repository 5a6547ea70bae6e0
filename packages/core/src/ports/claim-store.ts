/**
 * Port: the exclusive, durable claim on a generation — the safety half of I1. Before a refresh token of generation
 * *g* is sent, the sender must create the claim record (g, attempt) exclusively (an `O_EXCL` create, a unique key);
 * a second creator fails whatever the lock says. `markPresenting` is written just before the request leaves, so a
 * claimant that died before sending can be told from one that died after (I9). `release` records that a request was
 * definitely not processed (never sent, or refused with 5xx/429), which allows the next attempt.
 */
import { Context, type Effect } from "effect";
import type { AccountRef } from "../account.ts";
import type { StoreFailure } from "../errors.ts";

export interface Claimant {
  readonly host: string;
  readonly pid: number;
  readonly at: number;
}

export interface ClaimRecord {
  readonly generation: number;
  readonly attempt: number;
  readonly claimant: Claimant;
  /** The request may have left (written just before sending). */
  readonly presenting: boolean;
  /** Why the claim was released as "not processed", if it was. */
  readonly released: string | undefined;
}

export interface ClaimStoreShape {
  /** Exclusively creates the claim (generation, attempt), durably. `false` when it already exists. */
  readonly claim: (
    account: AccountRef,
    generation: number,
    attempt: number,
    claimant: Claimant,
  ) => Effect.Effect<boolean, StoreFailure>;
  /** Durably records that the claimed request is about to be sent. */
  readonly markPresenting: (
    account: AccountRef,
    generation: number,
    attempt: number,
  ) => Effect.Effect<void, StoreFailure>;
  /** Durably records that the claimed request was definitely not processed. */
  readonly release: (
    account: AccountRef,
    generation: number,
    attempt: number,
    reason: string,
  ) => Effect.Effect<void, StoreFailure>;
  /** Every claim on a generation, by attempt. */
  readonly list: (account: AccountRef, generation: number) => Effect.Effect<ReadonlyArray<ClaimRecord>, StoreFailure>;
}

export class ClaimStore extends Context.Service<ClaimStore, ClaimStoreShape>()("@baton/core/ClaimStore") {}
