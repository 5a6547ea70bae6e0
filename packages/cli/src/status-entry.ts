/**
 * `baton status [REF] [--json]` in its simplest forms, run without loading effect/cli and the other commands (its
 * start-up is most of the time of a status of a few accounts). The behaviour is status-view.ts, the same as the full
 * CLI's `status` command; errors and exit codes are the CLI's (exit-report.ts).
 */
import { Effect } from "effect";
import { provideApp } from "./composition.ts";
import { exitCodeAfter } from "./exit-report.ts";
import { showStatus } from "./status-view.ts";

/**
 * The options of a `baton status` that this entry can run: at most one REF and `--json`, nothing else (anything
 * else — `--help`, unknown flags — goes to the full CLI). `undefined` when the arguments are not that simple.
 */
export const simpleStatusArgs = (
  args: ReadonlyArray<string>,
): { readonly ref: string | undefined; readonly json: boolean } | undefined => {
  let ref: string | undefined;
  let json = false;
  for (const arg of args) {
    if (arg === "--json" && !json) json = true;
    else if (!arg.startsWith("-") && ref === undefined && arg.length > 0) ref = arg;
    else return undefined;
  }
  return { ref, json };
};

export const runStatus = async (options: { readonly ref: string | undefined; readonly json: boolean }) =>
  exitCodeAfter(await Effect.runPromiseExit(provideApp(showStatus(options.ref, options.json))));
