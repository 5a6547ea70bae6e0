/**
 * Where every `baton` run starts (bin.ts is the executable). A fresh `baton token REF` is answered by a fast path
 * without loading the rest of baton — from the files of BATON_HOME, from the PostgreSQL store of BATON_STORE in one
 * query, or for a thin client (BATON_SERVER) by one request to the broker (serve/thin-token.ts); the other simplest
 * forms (lean-invocation.ts) run on the lean entry, without effect/cli; everything else loads the full CLI (main.ts).
 * Node's on-disk compile cache is enabled for the larger bundles. `extension` adds services for the commands
 * (composition.ts; the fast paths run no command and need none); the executable passes none.
 */
import * as nodeModule from "node:module";
import type { Extension } from "./composition.ts";
import { tryFastToken } from "./fast-token.ts";
import { leanInvocation } from "./lean-invocation.ts";
import { thinToken } from "./serve/thin-token.ts";

const isSet = (value: string | undefined): boolean => value !== undefined && value !== "";

/** Runs `baton ARGS` and sets the process's exit code. */
export const launch = async (args: ReadonlyArray<string>, extension?: Extension): Promise<void> => {
  const lean = leanInvocation(args);
  const shared = isSet(process.env.BATON_STORE);
  if (lean?.command === "token") {
    const thin = await thinToken(lean.ref);
    if (thin !== undefined) {
      process.exitCode = thin;
      return;
    }
    if (!isSet(process.env.BATON_SERVER) && !shared && tryFastToken(lean.ref)) return;
  }
  // A namespace import: Node releases without the compile cache lack the export, and must still start.
  nodeModule.enableCompileCache?.();
  if (lean?.command === "token" && shared && !isSet(process.env.BATON_SERVER)) {
    if (await (await import("./fast-token-postgres.ts")).tryPostgresToken(lean.ref)) return;
  }
  process.exitCode =
    lean === undefined
      ? await (await import("./main.ts")).run(args, extension)
      : await (await import("./lean-entry.ts")).runLean(lean, extension);
};
