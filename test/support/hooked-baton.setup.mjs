// Vitest global setup of the integration tests: bundles support/hooked-baton.ts (the CLI with protocol hooks) to
// test/dist/baton-hooked.mjs from the current sources, the way packages/cli/build.mjs bundles the real CLI.
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { bundleOptions } from "../../packages/cli/bundle-options.mjs";

const test = dirname(dirname(fileURLToPath(import.meta.url)));

export default async function setup() {
  rmSync(join(test, "dist"), { recursive: true, force: true });
  await build({
    entryPoints: { "baton-hooked": join(test, "support", "hooked-baton.ts") },
    outdir: join(test, "dist"),
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunks/[name]-[hash]",
    splitting: true,
    ...bundleOptions,
  });
}
