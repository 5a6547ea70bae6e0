/**
 * `baton use REF`: makes REF its provider's default account, so a bare `PROVIDER` names it. REF must hold credentials:
 * an account that was never logged in (or was logged out) is refused with exit 3, like `baton token` of it would be,
 * and the default stays as it was.
 */
import { ProviderRegistry } from "@baton/adapters";
import { accountKey, InvalidInput, LoginRequired, parseAccountInput, SecretStore } from "@baton/core";
import { Effect } from "effect";
import { Argument, Command } from "effect/cli";

export const useCommand = Command.make(
  "use",
  { ref: Argument.String("ref").pipe(Argument.withDescription("PROVIDER:ACCOUNT")) },
  ({ ref }) =>
    Effect.gen(function* () {
      const input = yield* parseAccountInput(ref).pipe(
        Effect.mapError((e) => new InvalidInput({ reason: "argument", message: e.message })),
      );
      if (input.account === undefined) {
        return yield* new InvalidInput({
          reason: "argument",
          message: `name the account: baton use ${input.provider}:ACCOUNT`,
        });
      }
      const account = { provider: input.provider, account: input.account };
      yield* ProviderRegistry.getProvider(account.provider);
      if ((yield* (yield* SecretStore).read(account)) === undefined) {
        const key = accountKey(account);
        return yield* new LoginRequired({
          account: key,
          reason: "no-credentials",
          message: `${key} has no credentials, so it cannot be the default; log in first: baton login ${key}`,
        });
      }
      yield* ProviderRegistry.setDefaultAccount(account.provider, account.account);
      yield* Effect.sync(() =>
        process.stderr.write(`${input.provider} now means ${input.provider}:${input.account}\n`),
      );
    }),
).pipe(
  Command.withDescription("Make an account its provider's default"),
  Command.withExamples([
    { command: "baton use github:work", description: "`baton token github` now uses github:work" },
  ]),
);
