/**
 * In-memory secret, event and claim stores over a shared {@link MemoryWorld}. They keep the ports' contracts exactly
 * (compare-and-set generations, sequence numbers, exclusive claims judged by the claimant's liveness) so the protocol
 * behaves the same as on disk, and they keep audit trails the property tests check invariants against.
 */
import { Effect, Layer, type Scope } from "effect";
import { type AccountRef, accountFromKey, accountKey } from "../account.ts";
import { StoreFailure } from "../errors.ts";
import type { AccountEvent } from "../events.ts";
import { resumeFold } from "../fold-checkpoint.ts";
import { type ClaimRecord, type ClaimRequest, ClaimStore } from "../ports/claim-store.ts";
import { EventStore } from "../ports/event-store.ts";
import type { Liveness } from "../ports/host.ts";
import { GenerationConflict, SecretStore } from "../ports/secret-store.ts";
import { judgeClaims } from "../protocol/claims.ts";
import { RefreshSettings } from "../protocol/settings.ts";
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
      probe: () =>
        world.failSecretWrites > 0
          ? Effect.fail(new StoreFailure({ reason: "no-space", message: "no space left on device (simulated)" }))
          : Effect.void,
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
      note: (account, note) =>
        Effect.sync(() => {
          const key = accountKey(account);
          const notes = world.notes.get(key) ?? [];
          world.notes.set(key, notes);
          notes.push(note);
        }),
      notes: (account) => Effect.sync(() => [...(world.notes.get(accountKey(account)) ?? [])]),
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

/**
 * The claim store of simulated process `pid`: a claimant on this world's host is alive while its pid is (its own
 * claims while it holds them — the in-process registry of live claims); a claimant on another host is "unknown".
 */
export const claimStoreLayer = (world: MemoryWorld, pid: number) => {
  const liveKey = (account: AccountRef, generation: number, attempt: number, owner: number) =>
    `${accountKey(account)}|${generation}|${attempt}|${owner}`;
  const liveness = (account: AccountRef, claim: ClaimRecord): Liveness => {
    if (claim.claimant.host !== world.host) return "unknown";
    if (claim.claimant.pid === pid) {
      return world.liveClaims.has(liveKey(account, claim.generation, claim.attempt, pid)) ? "alive" : "dead";
    }
    return world.alive.has(claim.claimant.pid) ? "alive" : "dead";
  };
  /** Creates (generation, attempt) if absent, held live until the scope closes. */
  const create = (
    account: AccountRef,
    generation: number,
    attempt: number,
    request: ClaimRequest,
  ): Effect.Effect<boolean, never, Scope.Scope> =>
    Effect.gen(function* () {
      const claims = claimsOf(world, account);
      const key = claimKey(generation, attempt);
      if (claims.has(key)) return false;
      claims.set(key, {
        generation,
        attempt,
        claimant: request.claimant,
        presenting: false,
        released: undefined,
        refreshFp: request.refreshFp,
        rotated: false,
      });
      const live = liveKey(account, generation, attempt, pid);
      world.liveClaims.add(live);
      yield* Effect.addFinalizer(() => Effect.sync(() => world.liveClaims.delete(live)));
      return true;
    });
  const update = (account: AccountRef, generation: number, attempt: number, change: Partial<ClaimRecord>) => {
    const claims = claimsOf(world, account);
    const key = claimKey(generation, attempt);
    const claim = claims.get(key);
    if (claim !== undefined) claims.set(key, { ...claim, ...change });
  };
  return Layer.succeed(
    ClaimStore,
    ClaimStore.of({
      acquire: (account, generation, request) =>
        Effect.gen(function* () {
          yield* pause("claims.claim");
          const settings = yield* RefreshSettings;
          const existing = [...claimsOf(world, account).values()].filter((c) => c.generation === generation);
          const judged = existing.map((record) => ({ record, liveness: liveness(account, record) }));
          const judgement = judgeClaims(judged, request.claimant.at, settings.remoteInFlightMs);
          if (judgement.kind === "in-flight") return { _tag: "InFlight", claim: judgement.claim } as const;
          if (judgement.kind === "in-doubt") {
            return {
              _tag: "InDoubt",
              claim: judgement.claim,
              presented: judgement.presented,
              nextAttempt: judgement.nextAttempt,
            } as const;
          }
          // Everything above ran without a yield point: the judgement and the creation are one atomic step.
          yield* create(account, generation, judgement.nextAttempt, request);
          return { _tag: "Granted", attempt: judgement.nextAttempt } as const;
        }),
      retry: (account, generation, attempt, request) =>
        Effect.flatMap(pause("claims.claim"), () => create(account, generation, attempt, request)),
      markPresenting: (account, generation, attempt) =>
        atPause("claims.present", () => update(account, generation, attempt, { presenting: true })),
      markRotated: (account, generation, attempt) =>
        atPause("claims.rotated", () => update(account, generation, attempt, { rotated: true, presenting: true })),
      release: (account, generation, attempt, reason) =>
        atPause("claims.release", () => {
          const claim = claimsOf(world, account).get(claimKey(generation, attempt));
          if (claim !== undefined && claim.released === undefined) {
            update(account, generation, attempt, { released: reason });
          }
        }),
      list: (account, generation) =>
        atPause("claims.list", () =>
          [...claimsOf(world, account).values()].filter((claim) => claim.generation === generation),
        ),
      highest: (account) =>
        Effect.sync(() => Math.max(0, ...[...claimsOf(world, account).values()].map((claim) => claim.generation))),
      prune: (account, generation) =>
        Effect.sync(() => {
          const claims = claimsOf(world, account);
          let removed = 0;
          for (const [key, claim] of claims) {
            if (claim.generation < generation) {
              claims.delete(key);
              removed += 1;
            }
          }
          return removed;
        }),
    }),
  );
};
