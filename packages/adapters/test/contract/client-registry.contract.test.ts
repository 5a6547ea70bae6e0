/**
 * The ClientRegistry contract against the memory double and the file registry of a home (a second instance: another
 * broker process over the same home, which finds the file changed). The PostgreSQL registry runs the same suite in
 * test/scaleout/contracts.test.ts.
 */
import { Layer } from "effect";
import * as Clients from "../../src/broker/client-registry.ts";
import * as ClientRegistryFile from "../../src/broker/client-registry-file.ts";
import { makeHome } from "../file/helpers.ts";
import { clientRegistryContract } from "./client-registry-contract.ts";

clientRegistryContract("memory", async () => {
  const shared = Clients.ClientRegistry.of(Clients.makeMemory());
  return {
    layer: Layer.succeed(Clients.ClientRegistry, shared),
    secondInstance: Layer.succeed(Clients.ClientRegistry, shared),
    cleanup: async () => undefined,
  };
});

clientRegistryContract("file", async () => {
  const { home, cleanup } = makeHome();
  return {
    layer: ClientRegistryFile.layer(home),
    secondInstance: ClientRegistryFile.layer(home),
    cleanup: async () => cleanup(),
  };
});
