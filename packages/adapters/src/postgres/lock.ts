/**
 * The per-account lock on PostgreSQL, and its change notifications. The lock is for orderly waiting; safety (I1)
 * rests on the claims (claims.ts).
 *
 * - `tryAcquire` is `pg_try_advisory_lock` (a SESSION lock in the account-lock key space) on this process's own
 *   connection (session.ts), which is never shared with anyone else: the lock lives exactly as long as that
 *   connection, so a holder that dies — killed, crashed, cut off once the server's TCP keepalive gives up on it —
 *   releases it at once, with no lease to expire and no clock to trust (I5). A live holder's lock is never taken.
 *   Session locks are re-entrant within one connection, so the locks this process holds are also kept in a set, and
 *   a second instance or fiber in this process finds the lock held, as another process would.
 * - A lease knows it was lost when the connection it was taken on is gone (`lost`); `release` unlocks and NOTIFYs in
 *   one statement.
 * - Watchers LISTEN on the changes channel (one LISTEN per process, re-issued after every reconnect); every credentials
 *   write and every unlock notifies its account (the notification is delivered when the writing transaction commits),
 *   and after a reconnect every watcher wakes, since a notification may have been missed: waiters re-read then.
 */
import {
  AccountLock,
  type AccountLockShape,
  type AccountRef,
  accountKey,
  type ChangeWatcher,
  LockFailure,
  type LockLease,
} from "@baton/core";
import { Effect, Layer, type Scope } from "effect";
import type { Session } from "./session.ts";
import { ACCOUNT_LOCK_SPACE, CHANGES_CHANNEL, PostgresStore, type PostgresStoreShape } from "./store.ts";

interface AccountChanges {
  version: number;
  readonly wakers: Set<() => void>;
}

interface Shared {
  /** Account locks held by this process (re-entrancy guard). */
  readonly held: Set<string>;
  readonly changes: Map<string, AccountChanges>;
  listening: Promise<void> | undefined;
}

const shared = new WeakMap<Session, Shared>();

const sharedOf = (session: Session): Shared => {
  let known = shared.get(session);
  if (known === undefined) {
    known = { held: new Set(), changes: new Map(), listening: undefined };
    shared.set(session, known);
  }
  return known;
};

const bump = (entry: AccountChanges): void => {
  entry.version += 1;
  for (const wake of [...entry.wakers]) wake();
};

export const make = (store: PostgresStoreShape): AccountLockShape => {
  const { session } = store;
  const state = sharedOf(session);
  const toLockFailure = (failure: { readonly message: string }) =>
    new LockFailure({ reason: "io", message: failure.message });

  const tryAcquire = (account: AccountRef): Effect.Effect<LockLease | undefined, LockFailure> =>
    Effect.suspend(() => {
      const key = accountKey(account);
      if (state.held.has(key)) return Effect.succeed(undefined);
      state.held.add(key);
      return store
        .query("take the account lock", async (client) => {
          const taken = await client.query<{ locked: boolean }>(
            "SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked",
            [ACCOUNT_LOCK_SPACE, key],
          );
          return { locked: taken.rows[0]?.locked === true, epoch: session.epoch() };
        })
        .pipe(
          Effect.mapError(toLockFailure),
          Effect.onExit((exit) =>
            Effect.sync(() => {
              if (exit._tag === "Failure" || !exit.value.locked) state.held.delete(key);
            }),
          ),
          Effect.map(({ locked, epoch }) => {
            if (!locked) return undefined;
            let released = false;
            const lease: LockLease = {
              release: Effect.promise(async () => {
                if (released) return;
                released = true;
                state.held.delete(key);
                await session
                  .run((client) =>
                    session.epoch() === epoch
                      ? client.query("SELECT pg_advisory_unlock($1, hashtext($2)), pg_notify($3, $2)", [
                          ACCOUNT_LOCK_SPACE,
                          key,
                          CHANGES_CHANNEL,
                        ])
                      : client.query("SELECT pg_notify($1, $2)", [CHANGES_CHANNEL, key]),
                  )
                  .catch(() => undefined);
              }),
              lost: Effect.sync(() => session.epoch() !== epoch),
            };
            return lease;
          }),
        );
    });

  const listen = (): Promise<void> => {
    state.listening ??= session
      .listen(CHANGES_CHANNEL, (payload) => {
        if (payload === undefined) {
          for (const entry of state.changes.values()) bump(entry);
          return;
        }
        const entry = state.changes.get(payload);
        if (entry !== undefined) bump(entry);
      })
      .then(() => undefined)
      .catch((error: unknown) => {
        state.listening = undefined;
        throw error;
      });
    return state.listening;
  };

  // Listening from the start costs nothing (the connection's first round trip LISTENs) and spares a waiter the
  // round trip when it first waits — in a herd, at the moment the holder most needs the database.
  listen().catch(() => undefined);

  const watch = (account: AccountRef): Effect.Effect<ChangeWatcher, LockFailure, Scope.Scope> =>
    Effect.gen(function* () {
      const key = accountKey(account);
      yield* store.ready.pipe(Effect.mapError(toLockFailure));
      yield* Effect.tryPromise({
        try: listen,
        catch: (error) =>
          new LockFailure({
            reason: "io",
            message: `could not listen for changes in ${store.where}: ${error instanceof Error ? error.message : String(error)}`,
          }),
      });
      let entry = state.changes.get(key);
      if (entry === undefined) {
        entry = { version: 0, wakers: new Set() };
        state.changes.set(key, entry);
      }
      const changes = entry;
      let seen = changes.version;
      const woken = new Set<() => void>();
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          for (const wake of woken) changes.wakers.delete(wake);
        }),
      );
      const wake = Effect.callback<void>((resume) => {
        const waker = () => {
          changes.wakers.delete(waker);
          woken.delete(waker);
          resume(Effect.void);
        };
        changes.wakers.add(waker);
        woken.add(waker);
        return Effect.sync(() => {
          changes.wakers.delete(waker);
          woken.delete(waker);
        });
      });
      return {
        next: (maxWaitMs) =>
          Effect.suspend(() => {
            if (changes.version !== seen) {
              seen = changes.version;
              return Effect.void;
            }
            return Effect.raceFirst(wake, Effect.sleep(Math.max(0, maxWaitMs))).pipe(
              Effect.ensuring(
                Effect.sync(() => {
                  seen = changes.version;
                }),
              ),
            );
          }),
      } satisfies ChangeWatcher;
    });

  return { tryAcquire, watch };
};

/** The PostgreSQL account lock as a layer. */
export const layer: Layer.Layer<AccountLock, never, PostgresStore> = Layer.effect(
  AccountLock,
  Effect.gen(function* () {
    return AccountLock.of(make(yield* PostgresStore));
  }),
);
