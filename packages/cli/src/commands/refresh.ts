/** `baton refresh REF | --all`: forces a refresh now, still under the protocol (one rotation, every process adopts). */
import { allAccounts, InvalidInput, Tokens } from "@baton/core";
import { Effect, Option } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { resolveAccount } from "../resolve.ts";

export const refreshCommand = Command.make(
  "refresh",
  {
    ref: Argument.String("ref").pipe(Argument.withDescription("PROVIDER:ACCOUNT"), Argument.optional),
    all: Flag.Boolean("all").pipe(Flag.withDescription("refresh every account"), Flag.withDefault(false)),
  },
  ({ ref, all }) =>
    Effect.gen(function* () {
      const tokens = yield* Tokens.Tokens;
      const accounts = all
        ? yield* allAccounts
        : Option.isSome(ref)
          ? [yield* resolveAccount(ref.value)]
          : yield* new InvalidInput({
              reason: "argument",
              message: "name an account (PROVIDER:ACCOUNT) or pass --all",
            });
      for (const account of accounts) {
        const next = yield* tokens.refresh(account);
        yield* Effect.sync(() =>
          process.stderr.write(`${account.provider}:${account.account} now at generation ${next.generation}\n`),
        );
      }
    }),
).pipe(
  Command.withDescription("Force a refresh now (still one rotation across every process)"),
  Command.withExamples([
    { command: "baton refresh github:work", description: "rotate github:work now" },
    { command: "baton refresh --all", description: "rotate every account" },
  ]),
);
