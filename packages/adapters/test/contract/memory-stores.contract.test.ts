/**
 * The in-memory doubles of @baton/core (what the property tests and disk-less embedders use) through the same
 * contract suites as the file, keychain and database adapters: a double that drifted from its port would make the
 * property tests prove things about a store that does not exist.
 */
import { AccountLock, ClaimStore, Memory } from "@baton/core";
import { Effect } from "effect";
import { claimStoreContract } from "./claim-store-contract.ts";
import { eventStoreContract } from "./event-store-contract.ts";
import { lockContract } from "./lock-contract.ts";
import { secretStoreContract } from "./secret-store-contract.ts";

secretStoreContract("memory secret store", async () => ({
  layer: Memory.secretStoreLayer(Memory.makeWorld(), 1),
  cleanup: async () => undefined,
}));

claimStoreContract(
  "memory claim store",
  async () => {
    const world = Memory.makeWorld("contract-host");
    const pid = 4242;
    world.alive.add(pid);
    const store = await Effect.runPromise(
      Effect.provide(ClaimStore.use(Effect.succeed), Memory.claimStoreLayer(world, pid)),
    );
    return {
      host: world.host,
      pid,
      layer: Memory.claimStoreLayer(world, pid),
      secondInstance: Memory.claimStoreLayer(world, pid),
      claimElsewhere: async (account, generation, { machine, presenting, at }) => {
        const other = 5000 + world.alive.size;
        if (machine === "this") world.alive.add(other);
        const host = machine === "this" ? world.host : "another-machine";
        await Effect.runPromise(
          Effect.scoped(
            Effect.gen(function* () {
              const granted = yield* store.acquire(account, generation, {
                claimant: { host, pid: other, at },
                refreshFp: "fp",
              });
              if (granted._tag === "Granted" && presenting) {
                yield* store.markPresenting(account, generation, granted.attempt);
              }
            }),
          ),
        );
        return { pid: other, kill: async () => void world.alive.delete(other) };
      },
      remoteLiveness: "time-bound",
      deathNoticedWithinMs: 0,
      cleanup: async () => undefined,
    };
  },
  "time-bound",
);

eventStoreContract("memory event store", async () => ({
  layer: Memory.eventStoreLayer(Memory.makeWorld()),
  cleanup: async () => undefined,
}));

lockContract("memory lock", async () => {
  const world = Memory.makeWorld("contract-host");
  const pid = 4242;
  world.alive.add(pid);
  return {
    layer: Memory.lockLayer(world, pid),
    secondInstance: Memory.lockLayer(world, pid),
    secrets: Memory.secretStoreLayer(world, pid),
    holdElsewhere: async (account) => {
      const other = 6000 + world.alive.size;
      world.alive.add(other);
      await Effect.runPromise(
        Effect.provide(
          AccountLock.use((lock) => lock.tryAcquire(account)),
          Memory.lockLayer(world, other),
        ),
      );
      return { kill: async () => void world.alive.delete(other) };
    },
    deadHolderRecoveredWithinMs: 0,
    cleanup: async () => undefined,
  };
});
