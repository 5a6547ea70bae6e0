/**
 * The ports of a thin client besides `Tokens`. A thin client keeps nothing of its own — the broker holds the accounts
 * — so its stores are the core's in-memory doubles over an empty world of this process (nothing is written to disk;
 * `baton exec`'s session lives and ends with the process), its provider directory knows no provider, and its token
 * endpoint refuses: a thin client never holds a refresh token to present. The thin `Tokens` (tokens.ts) uses none of
 * them; they exist so that every command and the facade run on the same set of services.
 */
import { Memory, TokenEndpoint, TokenEndpointFailure } from "@baton/core";
import { Effect, Layer } from "effect";
import * as NodeHostIdentity from "../node/host-identity.ts";

const noTokenEndpoint = Layer.succeed(
  TokenEndpoint,
  TokenEndpoint.of({
    refresh: () =>
      Effect.fail(
        new TokenEndpointFailure({
          reason: "network",
          processed: "no",
          message: "a thin client holds no refresh token; the broker refreshes",
        }),
      ),
    introspect: () => Effect.succeed("unavailable"),
  }),
);

/** Every port but `Tokens`, for a process that borrows its tokens from a broker. */
export const layer = () => {
  const world = Memory.makeWorld();
  const pid = process.pid;
  world.alive.add(pid);
  return Layer.mergeAll(
    Memory.secretStoreLayer(world, pid),
    Memory.eventStoreLayer(world),
    Memory.claimStoreLayer(world, pid),
    Memory.lockLayer(world, pid),
    Memory.sessionsLayer(world, pid),
    Memory.providersLayer([]),
    noTokenEndpoint,
    NodeHostIdentity.layer,
  );
};
