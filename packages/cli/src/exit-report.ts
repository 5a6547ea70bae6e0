/**
 * The end of every CLI run — the full CLI (main.ts) and the lean entries for the simplest `token` and `status`
 * invocations (lean-entry.ts): a failure is reported on stderr and mapped to its exit code
 * (exit-codes.ts), the same way whichever entry ran the command.
 */
import { Cause, Exit } from "effect";
import { EXIT, exitCodeOf, messageOf } from "./exit-codes.ts";

/** Reports a failed run on stderr; returns the process exit code. */
export const exitCodeAfter = <A, E>(exit: Exit.Exit<A, E>): number => {
  if (Exit.isSuccess(exit)) return EXIT.ok;
  const error = Cause.findErrorOption(exit.cause);
  const failure = error._tag === "Some" ? error.value : Cause.squash(exit.cause);
  const code = exitCodeOf(failure);
  // An invalid invocation was already explained by the full CLI's presenter.
  const explained = typeof failure === "object" && failure !== null && "_tag" in failure && failure._tag === "ShowHelp";
  if (!explained) process.stderr.write(`baton: ${messageOf(failure)}\n`);
  if (code === EXIT.bug && process.env.BATON_DEBUG === "1") process.stderr.write(`${Cause.pretty(exit.cause)}\n`);
  return code;
};
