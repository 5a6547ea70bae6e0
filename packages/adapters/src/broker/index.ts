/**
 * The thin client of a broker (`baton serve`, docs/serve.md): a process that sets BATON_SERVER (and usually
 * BATON_SERVER_TOKEN) borrows access tokens from the broker instead of keeping accounts of its own. `BrokerAddress`
 * parses where the broker answers, `BrokerClient` makes the API's calls as Effects, `BrokerTokens` is the `Tokens`
 * service over them and `ThinPorts` the other ports of such a process (memory only: nothing is written to disk).
 * `ClientRegistry` is the broker's side: the client tokens it accepts, stored as hashes (in the broker's home,
 * `ClientRegistryFile`, or in the PostgreSQL store that several brokers share). NodeBaton.layer wires the
 * thin client as the `broker` backend.
 */
import { InvalidInput } from "@baton/core";
import { parseBrokerAddresses } from "./address.ts";
import type { BrokerConnection } from "./request.ts";

export * as BrokerAddress from "./address.ts";
export * as BrokerClient from "./client.ts";
export * as ClientRegistry from "./client-registry.ts";
export * as ClientRegistryFile from "./client-registry-file.ts";
export * as BrokerRequest from "./request.ts";
export * as ThinPorts from "./thin-ports.ts";
export * as BrokerTokens from "./tokens.ts";
export * as BrokerWire from "./wire.ts";

/**
 * The connection BATON_SERVER and BATON_SERVER_TOKEN describe (or the facade's `server` and `serverToken`): its
 * brokers in the order listed, and a memory of the one that answered last (so this process asks it first next time);
 * `undefined` when no server is set, `InvalidInput` naming the setting (and the item of a list) when it is not an
 * address or a list of them.
 */
export const connectionFromSettings = (
  server: string | undefined,
  token: string | undefined,
  names: { readonly server: string } = { server: "BATON_SERVER" },
): BrokerConnection | InvalidInput | undefined => {
  if (server === undefined || server === "") return undefined;
  const addresses = parseBrokerAddresses(server, names.server);
  if ("problem" in addresses) return new InvalidInput({ reason: "config", message: addresses.problem });
  return {
    brokers: addresses.map((address) => ({ address })),
    token: token === undefined || token === "" ? undefined : token,
    memory: { last: undefined },
  };
};
