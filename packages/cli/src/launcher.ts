#!/usr/bin/env node
/**
 * The `baton` entry point (bundled as packages/cli/dist/baton.mjs): a fresh `baton token` is answered by the fast
 * path without loading the rest of baton; a `baton token REF` that must refresh runs the token command alone
 * (token-entry.ts), and so does a simple `baton status [REF] [--json]` (status-entry.ts); everything else loads the
 * full CLI (main.ts). Node's on-disk compile cache is enabled for the larger bundles. A closed stdout pipe ends the
 * process quietly.
 */
import * as nodeModule from "node:module";
import { tryFastToken } from "./fast-token.ts";

// A reader that stops early (`baton status | head`) closes the pipe: stop quietly, as command-line tools do, instead
// of dying on an unhandled EPIPE with a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(typeof process.exitCode === "number" ? process.exitCode : 0);
});

const args = process.argv.slice(2);
if (!tryFastToken(args)) {
  // A namespace import: Node releases without the compile cache lack the export, and must still start.
  nodeModule.enableCompileCache?.();
  const statusEntry = args[0] === "status" ? await import("./status-entry.ts") : undefined;
  const status = statusEntry?.simpleStatusArgs(args.slice(1));
  if (args.length === 2 && args[0] === "token" && !(args[1] ?? "").startsWith("-")) {
    const { runToken } = await import("./token-entry.ts");
    process.exitCode = await runToken(args[1] ?? "");
  } else if (statusEntry !== undefined && status !== undefined) {
    process.exitCode = await statusEntry.runStatus(status);
  } else {
    await import("./main.ts");
  }
}
