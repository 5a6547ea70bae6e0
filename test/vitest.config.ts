// Integration tests: several packages together, real processes, a real authorization server on 127.0.0.1.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "integration",
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", "dist/**"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
