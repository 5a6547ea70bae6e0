#!/usr/bin/env node
/**
 * The `baton` executable (bundled as packages/cli/dist/baton.mjs): runs the command line (launcher.ts). A reader that
 * stops early (`baton status | head`) closes the pipe: the process then stops quietly, as command-line tools do,
 * instead of dying on an unhandled EPIPE with a stack trace.
 */
import { launch } from "./launcher.ts";

process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(typeof process.exitCode === "number" ? process.exitCode : 0);
});

await launch(process.argv.slice(2));
