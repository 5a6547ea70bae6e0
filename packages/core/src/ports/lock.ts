/**
 * Port: the per-account lock and change notifications. The lock is for efficiency and orderly waiting, never for
 * safety: a lease lock can end up held twice after a stall (I1 rests on the claim store instead). A lock held by a
 * live process is never taken over; a dead holder's lock is recovered within the adapter's documented bound (I5).
 * Followers wait on a watcher that wakes on any change to the account's lock or store (I6), not on fixed polling.
 */
import { Context, type Effect, type Scope } from "effect";
import type { AccountRef } from "../account.ts";
import type { LockFailure } from "../errors.ts";

export interface LockLease {
  /** Releases the lock and wakes waiters. Idempotent. */
  readonly release: Effect.Effect<void>;
  /** True once the adapter learned that the lease was lost (e.g. taken over as stale). */
  readonly lost: Effect.Effect<boolean>;
}

export interface ChangeWatcher {
  /**
   * Resolves at the first change to the account's lock or store since the watcher was made or since the previous
   * `next` returned, or after `maxWaitMs`, whichever comes first.
   */
  readonly next: (maxWaitMs: number) => Effect.Effect<void>;
}

export interface AccountLockShape {
  /** Takes the lock if it is free (or its holder is dead); `undefined` when a live holder has it. */
  readonly tryAcquire: (account: AccountRef) => Effect.Effect<LockLease | undefined, LockFailure>;
  /** A watcher of the account's lock and store, closed with the scope. */
  readonly watch: (account: AccountRef) => Effect.Effect<ChangeWatcher, LockFailure, Scope.Scope>;
}

export class AccountLock extends Context.Service<AccountLock, AccountLockShape>()("@baton/core/AccountLock") {}
