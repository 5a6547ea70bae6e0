/**
 * What `baton status` knows about an account, computed from the secret store (generation, storage) and the pure
 * fold of its event stream (resumed from the store's checkpoint) evaluated now. Secret-free by construction: only
 * fingerprints and times leave here.
 *
 * The secret store has the last word on whether credentials exist: when the history says a generation is stored
 * (a state that holds tokens) but the store has none — the record was moved to quarantine as corrupt, or deleted —
 * the state is `unauthenticated`, with no expiry, and `note` says why.
 */

import { Clock, Effect } from "effect";
import { type AccountRef, accountKey } from "../account.ts";
import type { Identity } from "../credentials.ts";
import { DEFAULT_THRESHOLD_MS } from "../policy.ts";
import { EventStore } from "../ports/event-store.ts";
import { SecretStore } from "../ports/secret-store.ts";
import { replay, stateName } from "../replay.ts";

export interface AccountStatus {
  readonly account: string;
  readonly state: string;
  readonly generation: number;
  readonly accessFp: string | null;
  readonly expiresAt: number | null;
  readonly lastRefreshAt: number | null;
  readonly storage: string;
  readonly lastError: { readonly reason: string; readonly at: number } | null;
  readonly inDoubt: {
    readonly generation: number;
    readonly host: string;
    readonly pid: number;
    readonly at: number;
  } | null;
  /** Who the tokens belong to (from the last login's ID token), when known. */
  readonly identity: Identity | null;
  /** This machine's clock minus the provider's at the last stored generation, when measured (ms). */
  readonly clockSkewMs: number | null;
  /** The provider asked not to be asked again before this time, if it still applies. */
  readonly retryAt: number | null;
  readonly events: number;
  /** Why the state differs from what the history alone says, or `null`. */
  readonly note: string | null;
}

/** Lifecycle states in which the history says the account holds credentials. */
export const HOLDS_CREDENTIALS: ReadonlySet<string> = new Set(["valid", "expiring", "expired", "refreshing"]);

export const accountStatus = (account: AccountRef) =>
  Effect.gen(function* () {
    const secrets = yield* SecretStore;
    const events = yield* EventStore;
    const now = yield* Clock.currentTimeMillis;
    const folded = yield* events.fold(account, DEFAULT_THRESHOLD_MS, "read");
    const stored = yield* secrets.read(account);
    const snapshot = replay([], { from: folded.snapshot, now });
    const context = snapshot.context;
    const historyState = stateName(snapshot);
    const missing = stored === undefined && HOLDS_CREDENTIALS.has(historyState);
    return {
      account: accountKey(account),
      state: missing ? "unauthenticated" : historyState,
      generation: Math.max(stored?.generation ?? 0, context.generation),
      accessFp: missing ? null : (context.accessFp ?? null),
      expiresAt: missing ? null : (stored?.expiresAt ?? (context.generation > 0 ? context.expiresAt : null)),
      lastRefreshAt: context.lastRefreshAt ?? null,
      storage: stored === undefined ? "none" : secrets.kind,
      lastError: context.lastError ?? null,
      inDoubt:
        context.inDoubt === undefined
          ? null
          : {
              generation: context.inDoubt.generation,
              host: context.inDoubt.host,
              pid: context.inDoubt.pid,
              at: context.inDoubt.at,
            },
      identity: context.identity ?? null,
      clockSkewMs: context.clockSkewMs ?? null,
      retryAt: context.retryAt !== undefined && context.retryAt > now ? context.retryAt : null,
      events: folded.events,
      note: missing
        ? `no credentials: the history stored generation ${context.generation}, but the secret store holds none ` +
          "(moved to quarantine as corrupt, or deleted); log in again"
        : null,
    } satisfies AccountStatus;
  });

/**
 * Every account that has secrets or an event stream, sorted case-insensitively (then by the exact key). Account names
 * are ASCII (account.ts), so plain comparisons of lower-cased keys do: `localeCompare` would build ICU's collator on
 * its first use, ~8 ms of a `status` over 1,000 accounts.
 */
export const allAccounts = Effect.gen(function* () {
  const secrets = yield* SecretStore;
  const events = yield* EventStore;
  const keys = new Map<string, AccountRef>();
  for (const ref of [...(yield* secrets.list()), ...(yield* events.accounts())]) keys.set(accountKey(ref), ref);
  return [...keys.entries()]
    .map(([key, ref]) => ({ folded: key.toLowerCase(), key, ref }))
    .sort((a, b) => compareText(a.folded, b.folded) || compareText(a.key, b.key))
    .map(({ ref }) => ref);
});

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
