// Integration tests: several packages together, real processes, a real authorization server on 127.0.0.1. The global
// setup bundles the test-only CLI with protocol hooks (support/hooked-baton.ts).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "integration",
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", "dist/**"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    globalSetup: ["support/hooked-baton.setup.mjs"],
  },
});
