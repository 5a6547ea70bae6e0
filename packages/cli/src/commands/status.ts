/**
 * `baton status [REF] [--json]`: per account — state, expiry (relative and absolute), last refresh, generation,
 * storage, last error, in-doubt claims. The `--json` shape is documented in docs/cli.md and never holds a secret.
 */
import { Option } from "effect";
import { Argument, Command } from "effect/cli";
import { jsonFlag } from "../json-flag.ts";
import { showStatus } from "../status-view.ts";

export const statusCommand = Command.make(
  "status",
  {
    ref: Argument.String("ref").pipe(
      Argument.withDescription("PROVIDER:ACCOUNT (default: every account)"),
      Argument.optional,
    ),
    json: jsonFlag,
  },
  ({ ref, json }) => showStatus(Option.getOrUndefined(ref), json),
).pipe(
  Command.withDescription("Show each account's state, expiry, generation, storage and problems"),
  Command.withExamples([
    { command: "baton status", description: "every account as a table" },
    { command: "baton status github:work --json", description: "one account, machine-readable" },
  ]),
);
