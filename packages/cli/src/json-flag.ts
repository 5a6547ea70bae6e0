/**
 * The `--json` flag of every command with machine-readable output: off by default; the shapes are stable, documented
 * in docs/cli.md, and never hold a secret (`baton token`'s own output aside).
 */
import { Flag } from "effect/cli";

export const jsonFlag = Flag.Boolean("json").pipe(
  Flag.withDescription("machine-readable output, never a secret (docs/cli.md)"),
  Flag.withDefault(false),
);
