/**
 * The in-memory doubles of @baton/core (what the property tests and disk-less embedders use) through the same
 * contract suites as the file, keychain and database adapters: a double that drifted from its port would make the
 * property tests prove things about a store that does not exist.
 */
import { Memory } from "@baton/core";
import { claimStoreContract } from "./claim-store-contract.ts";
import { secretStoreContract } from "./secret-store-contract.ts";

secretStoreContract("memory secret store", async () => ({
  layer: Memory.secretStoreLayer(Memory.makeWorld(), 1),
  cleanup: async () => undefined,
}));

claimStoreContract("memory claim store", async () => {
  const world = Memory.makeWorld("contract-host");
  const pid = 4242;
  world.alive.add(pid);
  return {
    host: world.host,
    pid,
    layer: Memory.claimStoreLayer(world, pid),
    secondInstance: Memory.claimStoreLayer(world, pid),
    aliveProcess: () => {
      const other = 5000 + world.alive.size;
      world.alive.add(other);
      return { pid: other, kill: async () => void world.alive.delete(other) };
    },
    cleanup: async () => undefined,
  };
});
