/**
 * Port: the exclusive, durable claim on a generation — the safety half of I1. Before a refresh token of generation
 * *g* is sent, the sender must hold a claim record (g, attempt) that only one creator can make (an `O_EXCL` create, a
 * unique key); a second creator fails whatever the lock says. `acquire` owns the whole decision: it judges the claims
 * already made on *g* (liveness judged the store's own way: a process probe on one host, a database session across
 * machines), and grants the next attempt only when none is in flight or in doubt. A grant counts as in flight for
 * every process — other instances in the same process included — until the scope it was acquired in closes.
 *
 * `markPresenting` is written just before the request leaves, so a claimant that died before sending can be told from
 * one that died after (I9). `markRotated` records that the server answered with new credentials that are not stored
 * yet (a full disk): the rotation happened. `release` records that a request was definitely not processed (never
 * sent, or refused before processing), which allows the next attempt. Generations only go up for an account's whole
 * life (logouts and logins included), so a claim of an earlier life can never match a later one: `highest` tells the
 * highest generation ever claimed, and `prune` removes the claims of generations a newer one superseded.
 */
import { Context, type Effect, type Scope } from "effect";
import type { AccountRef } from "../account.ts";
import type { StoreFailure } from "../errors.ts";

export interface Claimant {
  /** The machine (host name or machine identity) and process that made the claim. */
  readonly host: string;
  readonly pid: number;
  /** When, by the claimant's clock (ms since the epoch). Shown to people; used for safety only as a fallback bound. */
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
  /** The fingerprint of the refresh token the claim presents, when recorded. */
  readonly refreshFp: string | undefined;
  /** The server answered with new credentials that were not stored yet: the rotation happened. */
  readonly rotated: boolean;
}

/** What a claimant asks for: who it is and which refresh token it will present. */
export interface ClaimRequest {
  readonly claimant: Claimant;
  readonly refreshFp: string | undefined;
}

/** The outcome of {@link ClaimStoreShape.acquire}. */
export type Acquisition =
  /** This process holds attempt `attempt` and may present it (once). */
  | { readonly _tag: "Granted"; readonly attempt: number }
  /** A live claimant is presenting (or about to): wait for its outcome. */
  | { readonly _tag: "InFlight"; readonly claim: ClaimRecord }
  /**
   * A presented claim whose claimant is gone, with no newer generation known to the store: the outcome is unknown
   * (I9). `presented` counts the attempts on *g* presented without being released (1: no retry yet); `nextAttempt`
   * is the attempt a permitted retry would take.
   */
  | {
      readonly _tag: "InDoubt";
      readonly claim: ClaimRecord;
      readonly presented: number;
      readonly nextAttempt: number;
    };

export interface ClaimStoreShape {
  /** Judges the claims on `generation` and, when the way is free, creates and grants the next attempt durably. */
  readonly acquire: (
    account: AccountRef,
    generation: number,
    request: ClaimRequest,
  ) => Effect.Effect<Acquisition, StoreFailure, Scope.Scope>;
  /** Exclusively creates one given attempt (the one retry of an in-doubt generation); `false` when it exists. */
  readonly retry: (
    account: AccountRef,
    generation: number,
    attempt: number,
    request: ClaimRequest,
  ) => Effect.Effect<boolean, StoreFailure, Scope.Scope>;
  /** Durably records that the claimed request is about to be sent. */
  readonly markPresenting: (
    account: AccountRef,
    generation: number,
    attempt: number,
  ) => Effect.Effect<void, StoreFailure>;
  /** Durably records that the server rotated and the answer is not stored yet. */
  readonly markRotated: (account: AccountRef, generation: number, attempt: number) => Effect.Effect<void, StoreFailure>;
  /** Durably records that the claimed request was definitely not processed. */
  readonly release: (
    account: AccountRef,
    generation: number,
    attempt: number,
    reason: string,
  ) => Effect.Effect<void, StoreFailure>;
  /** Every claim on a generation, by attempt. */
  readonly list: (account: AccountRef, generation: number) => Effect.Effect<ReadonlyArray<ClaimRecord>, StoreFailure>;
  /** The highest generation ever claimed for the account (0: none). */
  readonly highest: (account: AccountRef) => Effect.Effect<number, StoreFailure>;
  /** Removes every claim on generations below `generation`; returns how many claims were removed. */
  readonly prune: (account: AccountRef, generation: number) => Effect.Effect<number, StoreFailure>;
}

export class ClaimStore extends Context.Service<ClaimStore, ClaimStoreShape>()("@baton/core/ClaimStore") {}
