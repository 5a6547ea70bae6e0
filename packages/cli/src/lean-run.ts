/**
 * Reporting the end of a command run without effect/cli (launcher.ts picks token-entry.ts and status-entry.ts for the
 * simplest invocations of `token` and `status`, the commands that run often or in herds): failures are reported and
 * mapped to exit codes exactly as the full CLI does (exit-codes.ts).
 */
import { Cause, Exit } from "effect";
import { EXIT, exitCodeOf, messageOf } from "./exit-codes.ts";

/** Reports a failed run on stderr; returns the process exit code. */
export const exitCodeAfter = <A, E>(exit: Exit.Exit<A, E>): number => {
  if (Exit.isSuccess(exit)) return EXIT.ok;
  const error = Cause.findErrorOption(exit.cause);
  const failure = error._tag === "Some" ? error.value : Cause.squash(exit.cause);
  process.stderr.write(`baton: ${messageOf(failure)}\n`);
  return exitCodeOf(failure);
};
