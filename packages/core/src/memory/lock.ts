/**
 * In-memory account lock, process table and change watcher over a shared {@link MemoryWorld}. A dead holder's lock
 * is recovered at once; a live holder's lease is taken over only when the world's `stealLease` fault says so — that
 * is how the property tests produce two holders at once (what a stalled proper-lockfile holder really experiences).
 */
import { Effect, Layer } from "effect";
import { accountKey } from "../account.ts";
import { HostIdentity } from "../ports/host.ts";
import { AccountLock, type LockLease } from "../ports/lock.ts";
import { atPause, type LeaseState, type MemoryWorld, notifyChange } from "./world.ts";

/** Unreleased leases whose holder is alive and did not lose them; dead holders' leases are recovered here. */
const liveHolders = (world: MemoryWorld, key: string): Array<LeaseState> => {
  const unreleased = (world.locks.get(key) ?? []).filter((lease) => !lease.released);
  for (const lease of unreleased) if (!world.alive.has(lease.pid)) lease.lost = true;
  world.locks.set(key, unreleased);
  return unreleased.filter((lease) => !lease.lost);
};

export const lockLayer = (world: MemoryWorld, pid: number, options: { readonly scheduled?: boolean } = {}) =>
  Layer.succeed(
    AccountLock,
    AccountLock.of({
      tryAcquire: (account) =>
        atPause("lock.try", () => {
          const key = accountKey(account);
          const holders = liveHolders(world, key);
          if (holders.length > 0) {
            if (!world.stealLease(key, pid)) return undefined;
            for (const lease of holders) lease.lost = true;
          }
          const state: LeaseState = { id: world.nextLeaseId++, pid, lost: false, released: false };
          world.locks.set(key, [...(world.locks.get(key) ?? []), state]);
          const lease: LockLease = {
            release: Effect.sync(() => {
              // A crashed process releases nothing: its lease stays until recovered.
              if (state.released || !world.alive.has(pid)) return;
              state.released = true;
              notifyChange(world);
            }),
            lost: Effect.sync(() => state.lost),
          };
          return lease;
        }),
      watch: () =>
        Effect.sync(() => {
          let seen = world.version;
          return {
            next: (maxWaitMs: number) =>
              options.scheduled === true
                ? // Under a test scheduler a wait is a yield point; the scheduler decides when the waiter runs again.
                  atPause("lock.wait", () => {
                    seen = world.version;
                  })
                : Effect.gen(function* () {
                    if (world.version !== seen) {
                      seen = world.version;
                      return;
                    }
                    yield* Effect.callback<void>((resume) => {
                      const wake = () => resume(Effect.void);
                      world.waiters.add(wake);
                      return Effect.sync(() => world.waiters.delete(wake));
                    }).pipe(Effect.timeoutOption(maxWaitMs));
                    seen = world.version;
                  }),
          };
        }),
    }),
  );

/** True when `pid` holds an unreleased lease on the account (possibly lost to a takeover): the I6 audit. */
export const holdsLock = (world: MemoryWorld, key: string, pid: number): boolean =>
  (world.locks.get(key) ?? []).some((lease) => lease.pid === pid && !lease.released);

export const hostLayer = (world: MemoryWorld, pid: number) =>
  Layer.succeed(
    HostIdentity,
    HostIdentity.of({
      host: world.host,
      pid,
      isAlive: (host, other) =>
        Effect.sync(() => (host !== world.host ? "unknown" : world.alive.has(other) ? "alive" : "dead")),
    }),
  );
