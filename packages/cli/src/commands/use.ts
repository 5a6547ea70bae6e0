/** `baton use REF`: makes REF its provider's default account, so a bare `PROVIDER` names it. */
import { ProviderRegistry } from "@baton/adapters";
import { InvalidInput, parseAccountInput } from "@baton/core";
import { Effect } from "effect";
import { Argument, Command } from "effect/cli";
import { CliEnvironment } from "../composition.ts";

export const useCommand = Command.make(
  "use",
  { ref: Argument.String("ref").pipe(Argument.withDescription("PROVIDER:ACCOUNT")) },
  ({ ref }) =>
    Effect.gen(function* () {
      const env = yield* CliEnvironment;
      const input = yield* parseAccountInput(ref).pipe(
        Effect.mapError((e) => new InvalidInput({ reason: "argument", message: e.message })),
      );
      if (input.account === undefined) {
        return yield* new InvalidInput({
          reason: "argument",
          message: `name the account: baton use ${input.provider}:ACCOUNT`,
        });
      }
      yield* ProviderRegistry.setDefaultAccount(env.home, input.provider, input.account);
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
