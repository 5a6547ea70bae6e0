/**
 * The in-process benchmarks and the barrier herd's children load baton from ONE esbuild bundle of the workspace
 * sources (the facade, the file adapters and the core), built the same way as the CLI (packages/cli/build.mjs):
 * Node's type stripping cannot load the adapters' sources (a TypeScript parameter property in
 * facade/background-refresh.ts needs `--experimental-transform-types`, which costs ~0.5 s per process), and a single
 * module graph loads in ~70 ms. The bundle goes to a temporary directory and is removed by the caller.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { bundleOptions } from "../../../packages/cli/bundle-options.mjs";
import { ROOT } from "./common.mjs";

const ENTRY = `
export { createBaton, FileEventStore, FileSecretStore, layerFileStores } from "@baton/adapters";
export { replay, step, initialSnapshot, stateName, accountStatus, allAccounts, encodeAccountEvent, lifecycleMachine } from "@baton/core";
export { createActor } from "xstate";
export { Effect } from "effect";
`;

/** `plugins`: esbuild plugins for a variant build (notes-cost.mjs builds one without the diagnostic notes). */
export const buildBundle = async ({ plugins = [] } = {}) => {
  const dir = await mkdtemp(join(tmpdir(), "baton-bench-bundle-"));
  const outfile = join(dir, "baton-bench.mjs");
  await build({
    stdin: { contents: ENTRY, resolveDir: join(ROOT, "test"), sourcefile: "bench-entry.mjs", loader: "js" },
    outfile,
    // xstate and effect are the core's dependencies; the entry imports it for the replay diagnostic (children/replay.mjs).
    nodePaths: [join(ROOT, "packages", "core", "node_modules")],
    ...bundleOptions,
    plugins,
  });
  return { path: outfile, cleanup: () => rm(dir, { recursive: true, force: true }) };
};
