/**
 * The lean entry: runs a {@link LeanInvocation} (`token REF`, `status [REF] [--json]`) with the commands' own
 * handlers and the CLI's services, errors and exit codes, without loading effect/cli or the other commands — so that
 * a herd of processes hitting an expired token, or a status of a few accounts, starts quickly.
 */
import { type Extension, provideApp } from "./composition.ts";
import { exitCodeAfter } from "./exit-report.ts";
import type { LeanInvocation } from "./lean-invocation.ts";
import { exitCodeOfRun, runInterruptibly } from "./signals.ts";
import { showStatus } from "./status-view.ts";
import { printToken } from "./token-view.ts";

export const runLean = async (invocation: LeanInvocation, extension?: Extension): Promise<number> =>
  exitCodeOfRun(
    await runInterruptibly(
      invocation.command === "token"
        ? provideApp(printToken(invocation.ref), extension)
        : provideApp(showStatus(invocation.ref, invocation.json), extension),
    ),
    exitCodeAfter,
  );
