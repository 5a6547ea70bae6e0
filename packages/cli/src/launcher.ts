#!/usr/bin/env node
/**
 * The `baton` entry point (bundled as packages/cli/dist/baton.mjs): a fresh `baton token` is answered by the fast
 * path without loading the rest of baton; everything else loads the full CLI (main.ts) on demand, with Node's
 * on-disk compile cache enabled so the large bundle is not recompiled on every start.
 */
import { enableCompileCache } from "node:module";
import { tryFastToken } from "./fast-token.ts";

if (!tryFastToken(process.argv.slice(2))) {
  enableCompileCache?.();
  await import("./main.ts");
}
