/**
 * In-memory doubles for every port, wired per simulated process: `processLayer(world, server, pid)` gives one
 * process's view (its own pid and host identity, shared stores and lock table). Embedders can use it for a baton with
 * no disk; the tests use it to run many "processes" in one.
 */
import { Effect, Layer } from "effect";
import { NotFound } from "../errors.ts";
import { ProviderDirectory, type ProviderProfile } from "../ports/providers.ts";
import { type SimulatedServer, tokenEndpointLayer } from "./authorization-server.ts";
import { hostLayer, lockLayer } from "./lock.ts";
import { claimStoreLayer, eventStoreLayer, secretStoreLayer } from "./stores.ts";
import type { MemoryWorld } from "./world.ts";

export * from "./authorization-server.ts";
export { holdsLock, hostLayer, lockLayer } from "./lock.ts";
export { sessionsLayer } from "./sessions.ts";
export { claimStoreLayer, eventStoreLayer, secretStoreLayer } from "./stores.ts";
export * from "./world.ts";

export const providersLayer = (profiles: ReadonlyArray<ProviderProfile>) =>
  Layer.succeed(
    ProviderDirectory,
    ProviderDirectory.of({
      get: (name) => {
        const profile = profiles.find((p) => p.name === name);
        return profile === undefined
          ? Effect.fail(new NotFound({ what: "provider", name, message: `no provider named "${name}"` }))
          : Effect.succeed(profile);
      },
    }),
  );

export interface ProcessOptions {
  readonly profiles: ReadonlyArray<ProviderProfile>;
  /** Waits are scheduler yield points instead of timed waits (property tests). */
  readonly scheduled?: boolean;
}

/** Every port, as seen by the simulated process `pid`. */
export const processLayer = (world: MemoryWorld, server: SimulatedServer, pid: number, options: ProcessOptions) => {
  world.alive.add(pid);
  return Layer.mergeAll(
    secretStoreLayer(world, pid),
    eventStoreLayer(world),
    claimStoreLayer(world, pid),
    lockLayer(world, pid, options.scheduled === true ? { scheduled: true } : {}),
    hostLayer(world, pid),
    tokenEndpointLayer(server, pid),
    providersLayer(options.profiles),
  );
};
