// The esbuild settings every bundle of baton shares: the CLI (build.mjs) and the benchmark's bundle of the workspace
// (test/bench/lib/bundle.mjs), so that the benchmark measures code built the way users run it.
export const bundleOptions = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  // Maps without the sources' text: stack traces (node --enable-source-maps) point at baton's own files and lines,
  // and the installed package stays small (the text of Effect's sources alone is ~9 MB).
  sourcemap: "linked",
  sourcesContent: false,
  // The local authorization server (its own package, with oidc-provider) is loaded only by `baton demo`; the keychain
  // binding is native; `pg-native` is the optional native binding of `pg`, which baton never asks for.
  external: ["@baton/devserver", "@napi-rs/keyring", "pg-native"],
  // Bundled CommonJS dependencies call `require`, which an ES module does not have.
  banner: {
    js: "import { createRequire as __batonCreateRequire } from 'node:module'; const require = __batonCreateRequire(import.meta.url);",
  },
  logLevel: "warning",
};
