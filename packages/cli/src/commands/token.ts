/**
 * `baton token [REF] [--json]`: prints a valid access token on stdout (refreshing under the protocol if needed),
 * nothing else; with `--json`, the token with its type, expiry, scope and account, from the same read.
 */
import { Argument, Command, Flag } from "effect/cli";
import { printToken } from "../token-view.ts";

export const tokenCommand = Command.make(
  "token",
  {
    ref: Argument.String("ref").pipe(Argument.withDescription("PROVIDER:ACCOUNT, or PROVIDER for its default account")),
    json: Flag.Boolean("json").pipe(
      Flag.withDescription("the token with token_type, expires_at, expires_in, scope and account, as JSON"),
      Flag.withDefault(false),
    ),
  },
  ({ ref, json }) => printToken(ref, json),
).pipe(
  Command.withDescription("Print a valid access token on stdout, refreshing it under the protocol when needed"),
  Command.withExamples([
    { command: "baton token github:work", description: "a token for github:work" },
    { command: "baton token github:work --json", description: "the token with its expiry, from one read" },
  ]),
);
