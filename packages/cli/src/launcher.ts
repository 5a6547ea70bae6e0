/**
 * Where every `baton` run starts (bin.ts is the executable). A fresh `baton token REF` is answered by the fast path
 * without loading the rest of baton (from files, or from the PostgreSQL store of BATON_STORE); the other simplest forms (lean-invocation.ts) run on the lean entry, without
 * effect/cli; everything else loads the full CLI (main.ts). Node's on-disk compile cache is enabled for the larger
 * bundles. `extension` adds services for the commands (composition.ts; the fast path runs no command and needs
 * none); the executable passes none.
 */
import * as nodeModule from "node:module";
import type { Extension } from "./composition.ts";
import { tryFastToken } from "./fast-token.ts";
import { leanInvocation } from "./lean-invocation.ts";

/** Runs `baton ARGS` and sets the process's exit code. */
export const launch = async (args: ReadonlyArray<string>, extension?: Extension): Promise<void> => {
  const lean = leanInvocation(args);
  if (lean?.command === "token" && tryFastToken(lean.ref)) return;
  // A namespace import: Node releases without the compile cache lack the export, and must still start.
  nodeModule.enableCompileCache?.();
  if (lean?.command === "token" && process.env.BATON_STORE !== undefined && process.env.BATON_STORE !== "") {
    if (await (await import("./fast-token-postgres.ts")).tryPostgresToken(lean.ref)) return;
  }
  process.exitCode =
    lean === undefined
      ? await (await import("./main.ts")).run(args, extension)
      : await (await import("./lean-entry.ts")).runLean(lean, extension);
};
