/** `baton token [REF]`: prints a valid access token on stdout (refreshing under the protocol if needed), nothing else. */
import { Tokens } from "@baton/core";
import { Effect } from "effect";
import { Argument, Command } from "effect/cli";
import { CliEnvironment } from "../composition.ts";
import { resolveAccount } from "../resolve.ts";

export const tokenCommand = Command.make(
  "token",
  {
    ref: Argument.String("ref").pipe(Argument.withDescription("PROVIDER:ACCOUNT, or PROVIDER for its default account")),
  },
  ({ ref }) =>
    Effect.gen(function* () {
      const env = yield* CliEnvironment;
      const account = yield* resolveAccount(env.home, ref);
      const tokens = yield* Tokens.Tokens;
      const token = yield* tokens.accessToken(account);
      yield* Effect.sync(() => process.stdout.write(`${token}\n`));
    }),
).pipe(
  Command.withDescription("Print a valid access token on stdout, refreshing it under the protocol when needed"),
  Command.withExamples([{ command: "baton token github:work", description: "a token for github:work" }]),
);
