/** `baton token [REF]`: prints a valid access token on stdout (refreshing under the protocol if needed), nothing else. */
import { Argument, Command } from "effect/cli";
import { printToken } from "../token-view.ts";

export const tokenCommand = Command.make(
  "token",
  {
    ref: Argument.String("ref").pipe(Argument.withDescription("PROVIDER:ACCOUNT, or PROVIDER for its default account")),
  },
  ({ ref }) => printToken(ref),
).pipe(
  Command.withDescription("Print a valid access token on stdout, refreshing it under the protocol when needed"),
  Command.withExamples([{ command: "baton token github:work", description: "a token for github:work" }]),
);
