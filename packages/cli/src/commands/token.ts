/**
 * `baton token [REF] [--json]`: prints a valid access token on stdout (refreshing under the protocol if needed),
 * nothing else; with `--json`, the token with its type, expiry, scope and account, from the same read
 * (../wire/token-json.ts).
 */
import { Tokens } from "@baton/core";
import { Clock, Effect } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { CliEnvironment } from "../composition.ts";
import { resolveAccount } from "../resolve.ts";
import { formatTokenJson, tokenJson } from "../wire/token-json.ts";

export const tokenCommand = Command.make(
  "token",
  {
    ref: Argument.String("ref").pipe(Argument.withDescription("PROVIDER:ACCOUNT, or PROVIDER for its default account")),
    json: Flag.Boolean("json").pipe(
      Flag.withDescription("the token with token_type, expires_at, expires_in, scope and account, as JSON"),
      Flag.withDefault(false),
    ),
  },
  ({ ref, json }) =>
    Effect.gen(function* () {
      const env = yield* CliEnvironment;
      const account = yield* resolveAccount(env.home, ref);
      const credentials = yield* (yield* Tokens.Tokens).credentials(account);
      const output = json
        ? formatTokenJson(
            tokenJson(`${account.provider}:${account.account}`, credentials, yield* Clock.currentTimeMillis),
          )
        : `${credentials.accessToken}\n`;
      yield* Effect.sync(() => process.stdout.write(output));
    }),
).pipe(
  Command.withDescription("Print a valid access token on stdout, refreshing it under the protocol when needed"),
  Command.withExamples([
    { command: "baton token github:work", description: "a token for github:work" },
    { command: "baton token github:work --json", description: "the token with its expiry, from one read" },
  ]),
);
