// Bundles the CLI into packages/cli/dist/baton.mjs, the one file `node` runs directly (and docker's credential helper
// into dist/docker-credential-baton.mjs, the demo's naive tool into dist/demo-naive-tool.mjs): one module graph to
// load means a fast start for `baton token` (SPEC §7).
// Code splitting keeps what only `baton demo` needs (the local authorization server, oidc-provider) in chunks loaded
// on demand.
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { bundleOptions } from "./bundle-options.mjs";

const here = dirname(fileURLToPath(import.meta.url));
// Chunk names carry content hashes: start from an empty output folder so stale chunks never pile up.
rmSync(join(here, "dist"), { recursive: true, force: true });
await build({
  entryPoints: {
    baton: join(here, "src", "bin.ts"),
    "docker-credential-baton": join(here, "src", "docker-credential-entry.ts"),
    // Not baton: the naive tool `baton demo` runs first, to show what happens without coordination.
    "demo-naive-tool": join(here, "src", "commands", "demo-naive-tool.ts"),
  },
  outdir: join(here, "dist"),
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunks/[name]-[hash]",
  splitting: true,
  ...bundleOptions,
});
