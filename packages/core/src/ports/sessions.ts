/**
 * Port: active sessions — processes that use an account's tokens for a while (`baton exec`, embedded hosts). Status
 * shows the count, logout warns when it is not zero, and clean removes orphans. A session whose process is dead does
 * not count, whatever its record says.
 */
import { Context, type Effect, type Scope } from "effect";
import type { AccountRef } from "../account.ts";
import type { StoreFailure } from "../errors.ts";

export interface SessionRecord {
  readonly account: string;
  readonly host: string;
  readonly pid: number;
  readonly kind: "exec" | "embedded";
  readonly startedAt: number;
  /** Last time the session said it was alive (embedded hosts refresh it). */
  readonly seenAt: number;
}

export interface SessionsShape {
  /** Registers this process as a session of `account` until the scope closes. */
  readonly register: (
    account: AccountRef,
    kind: SessionRecord["kind"],
  ) => Effect.Effect<void, StoreFailure, Scope.Scope>;
  /** Sessions whose process is alive (or on another host), optionally of one account. */
  readonly active: (account?: AccountRef) => Effect.Effect<ReadonlyArray<SessionRecord>, StoreFailure>;
  /** Records whose process is dead on this host, or idle longer than `idleMs`. */
  readonly stale: (idleMs: number) => Effect.Effect<ReadonlyArray<SessionRecord>, StoreFailure>;
  readonly remove: (session: SessionRecord) => Effect.Effect<void, StoreFailure>;
}

export class Sessions extends Context.Service<Sessions, SessionsShape>()("@baton/core/Sessions") {}
