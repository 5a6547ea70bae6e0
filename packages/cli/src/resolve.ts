/**
 * Turning what the user typed into an account: `PROVIDER:ACCOUNT` as is, a bare `PROVIDER` through the provider's
 * default account (set by the first login or `baton use`), failing with a usage error that says what to type. A thin
 * client (BATON_SERVER) asks the broker, whose registry holds the providers and their defaults.
 */
import { BrokerClient, ProviderRegistry } from "@baton/adapters";
import { type AccountRef, InvalidInput, parseAccountInput } from "@baton/core";
import { Effect } from "effect";
import { CliEnvironment } from "./composition.ts";

export const parseRef = (input: string) =>
  parseAccountInput(input).pipe(Effect.mapError((e) => new InvalidInput({ reason: "argument", message: e.message })));

export const resolveAccount = (input: string) =>
  Effect.gen(function* () {
    const parsed = yield* parseRef(input);
    if (parsed.account !== undefined)
      return { provider: parsed.provider, account: parsed.account } satisfies AccountRef;
    const { server } = yield* CliEnvironment;
    if (server !== undefined) return yield* BrokerClient.resolveAccount(server, parsed.provider);
    const fallback = yield* ProviderRegistry.defaultAccount(parsed.provider);
    if (fallback === undefined) {
      return yield* new InvalidInput({
        reason: "argument",
        message: `${parsed.provider} has no default account yet; name one as ${parsed.provider}:ACCOUNT (or run \`baton use ${parsed.provider}:ACCOUNT\`)`,
      });
    }
    return { provider: parsed.provider, account: fallback } satisfies AccountRef;
  });

/** Like {@link resolveAccount}, and the provider must be registered (exit 5 otherwise; a broker checks its own). */
export const resolveKnownAccount = (input: string) =>
  Effect.gen(function* () {
    const account = yield* resolveAccount(input);
    if ((yield* CliEnvironment).server === undefined) yield* ProviderRegistry.getProvider(account.provider);
    return account;
  });
