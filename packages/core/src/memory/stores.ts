/**
 * In-memory secret, event and claim stores over a shared {@link MemoryWorld}. They keep the ports' contracts exactly
 * (compare-and-set generations, sequence numbers, exclusive claims) so the protocol behaves the same as on disk, and
 * they keep audit trails the property tests check invariants against.
 */
import { Effect, Layer } from "effect";
import { type AccountRef, accountFromKey, accountKey } from "../account.ts";
import { StoreFailure } from "../errors.ts";
import type { AccountEvent } from "../events.ts";
import { resumeFold } from "../fold-checkpoint.ts";
import { type ClaimRecord, ClaimStore } from "../ports/claim-store.ts";
import { EventStore } from "../ports/event-store.ts";
import { GenerationConflict, SecretStore } from "../ports/secret-store.ts";
import { atPause, type MemoryWorld, notifyChange, pause } from "./world.ts";

export const secretStoreLayer = (world: MemoryWorld, pid: number) =>
  Layer.succeed(
    SecretStore,
    SecretStore.of({
      kind: "memory",
      read: (account) => atPause("secrets.read", () => world.secrets.get(accountKey(account))),
      write: (account, next, expectedGeneration) =>
        Effect.gen(function* () {
          yield* pause("secrets.write");
          if (world.failSecretWrites > 0) {
            world.failSecretWrites -= 1;
            return yield* new StoreFailure({ reason: "no-space", message: "no space left on device (simulated)" });
          }
          const key = accountKey(account);
          const found = world.secrets.get(key)?.generation ?? 0;
          if (found !== expectedGeneration || next.generation <= found) {
            return yield* new GenerationConflict({ account: key, expected: expectedGeneration, found });
          }
          world.secrets.set(key, next);
          world.secretWrites.push({ account: key, generation: next.generation, pid });
          notifyChange(world);
        }),
      remove: (account) =>
        atPause("secrets.remove", () => {
          const key = accountKey(account);
          world.secrets.delete(key);
          world.secretRemovals.push({ account: key, pid });
          notifyChange(world);
        }),
      list: () => Effect.sync(() => [...world.secrets.keys()].map(accountFromKey)),
    }),
  );

export const eventStoreLayer = (world: MemoryWorld) =>
  Layer.succeed(
    EventStore,
    EventStore.of({
      append: (account, events) =>
        atPause("events.append", () => {
          const key = accountKey(account);
          const stream = world.events.get(key) ?? [];
          world.events.set(key, stream);
          const stored = events.map((event, i) => ({ ...event, seq: stream.length + i + 1 }) as AccountEvent);
          stream.push(...stored);
          return stored;
        }),
      read: (account) => atPause("events.read", () => [...(world.events.get(accountKey(account)) ?? [])]),
      fold: (account, thresholdMs, _purpose) =>
        atPause("events.read", () => resumeFold(undefined, world.events.get(accountKey(account)) ?? [], thresholdMs)),
      accounts: () => Effect.sync(() => [...world.events.keys()].map(accountFromKey)),
    }),
  );

const claimKey = (generation: number, attempt: number) => `${generation}/${attempt}`;

const claimsOf = (world: MemoryWorld, account: AccountRef) => {
  const key = accountKey(account);
  const existing = world.claims.get(key);
  if (existing !== undefined) return existing;
  const created = new Map<string, ClaimRecord>();
  world.claims.set(key, created);
  return created;
};

export const claimStoreLayer = (world: MemoryWorld) =>
  Layer.succeed(
    ClaimStore,
    ClaimStore.of({
      claim: (account, generation, attempt, claimant) =>
        atPause("claims.claim", () => {
          const claims = claimsOf(world, account);
          const key = claimKey(generation, attempt);
          if (claims.has(key)) return false;
          claims.set(key, { generation, attempt, claimant, presenting: false, released: undefined });
          return true;
        }),
      markPresenting: (account, generation, attempt) =>
        atPause("claims.present", () => {
          const claims = claimsOf(world, account);
          const key = claimKey(generation, attempt);
          const claim = claims.get(key);
          if (claim !== undefined) claims.set(key, { ...claim, presenting: true });
        }),
      release: (account, generation, attempt, reason) =>
        atPause("claims.release", () => {
          const claims = claimsOf(world, account);
          const key = claimKey(generation, attempt);
          const claim = claims.get(key);
          if (claim !== undefined) claims.set(key, { ...claim, released: reason });
        }),
      list: (account, generation) =>
        atPause("claims.list", () =>
          [...claimsOf(world, account).values()].filter((claim) => claim.generation === generation),
        ),
    }),
  );
