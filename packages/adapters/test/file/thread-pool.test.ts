/**
 * The refresh holder's writes go to Node's thread pool only for their fsyncs (secure-write.ts): every other call of a
 * durable write is synchronous, because each trip through the thread pool costs the holder a wake-up, paid for in
 * time slices while a herd of waiters competes for the CPU (docs/performance.md). Counted with async_hooks: the
 * fs requests and file handles created while one operation runs, after the store has been set up once; a waiter's
 * look at a held lock creates no promise either.
 */
import { createHook } from "node:async_hooks";
import { mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { AccountLock, ClaimStore, EventStore, SecretStore } from "@baton/core";
import { Effect } from "effect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { account, credentials, makeHome, runWith, type Stores } from "./helpers.ts";

let home: string;
let cleanup: () => void;
beforeEach(() => {
  ({ home, cleanup } = makeHome());
});
afterEach(() => cleanup());

/** The fs-related async resources (and, with `promises`, the promises) created while `effect` runs, by type. */
const fsTrips = async <A, E>(
  effect: Effect.Effect<A, E, Stores>,
  promises = false,
): Promise<Record<string, number>> => {
  const counts: Record<string, number> = {};
  const hook = createHook({
    init: (_id, type) => {
      if (type.startsWith("FSREQ") || type.startsWith("FILEHANDLE") || (promises && type === "PROMISE")) {
        counts[type] = (counts[type] ?? 0) + 1;
      }
    },
  });
  await runWith(
    home,
    Effect.gen(function* () {
      yield* Effect.sync(() => hook.enable());
      yield* effect.pipe(Effect.ensuring(Effect.sync(() => hook.disable())));
    }),
  );
  return counts;
};

const stamp = { v: 1, at: 1, host: "h", pid: 1 } as const;

describe("durable writes and the thread pool", () => {
  beforeEach(async () => {
    // The account directory and its files exist, as they do for a refresh.
    await runWith(
      home,
      Effect.gen(function* () {
        yield* SecretStore.use((s) => s.write(account, credentials(1), 0));
        yield* EventStore.use((s) => s.append(account, [{ ...stamp, type: "lock.waited", waitedMs: 1 }]));
      }),
    );
  });

  it("write - should replace the secret record with two fsyncs (file, directory) and no other trip", async () => {
    const trips = await fsTrips(SecretStore.use((s) => s.write(account, credentials(2), 1)));
    expect(trips).toEqual({ FSREQCALLBACK: 2 });
  });

  it("append - should append to the event log with one fdatasync and no other trip", async () => {
    const trips = await fsTrips(
      EventStore.use((s) => s.append(account, [{ ...stamp, type: "lock.waited", waitedMs: 2 }])),
    );
    expect(trips).toEqual({ FSREQCALLBACK: 1 });
  });

  it("claim - should create the claim and its presenting marker with fsyncs only", async () => {
    const trips = await fsTrips(
      ClaimStore.use((s) =>
        Effect.all([
          Effect.scoped(s.acquire(account, 1, { claimant: { host: "h", pid: 1, at: 1 }, refreshFp: undefined })),
          s.markPresenting(account, 1, 1),
        ]),
      ),
    );
    // claims/ is new: its parent's fsync; the claim: file + directory; the marker: file + directory.
    expect(trips).toEqual({ FSREQCALLBACK: 5 });
  });

  it("tryAcquire - should take and release the lock without the thread pool", async () => {
    const trips = await fsTrips(
      Effect.scoped(
        Effect.gen(function* () {
          const lease = yield* AccountLock.use((lock) => lock.tryAcquire(account));
          expect(lease).toBeDefined();
          if (lease !== undefined) yield* lease.release;
        }),
      ),
    );
    expect(trips).toEqual({});
  });

  it("tryAcquire - given a lock held by a live process, should look without a promise or the thread pool", async () => {
    // What a waiter does at every look: the lock directory of another live process on this host, fresh.
    const lockDir = join(home, "accounts", "github", "work", "refresh.lock");
    mkdirSync(lockDir, { mode: 0o700 });
    const owner = { host: hostname(), pid: process.ppid, nonce: "0123456789abcdef" };
    writeFileSync(join(lockDir, "owner.json"), JSON.stringify(owner), { mode: 0o600 });
    const trips = await fsTrips(
      AccountLock.use((lock) => lock.tryAcquire(account)).pipe(
        Effect.tap((lease) => Effect.sync(() => expect(lease).toBeUndefined())),
      ),
      true,
    );
    expect(trips).toEqual({});
  });
});
