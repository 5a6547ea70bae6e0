// The root test configuration: one vitest project per package (unit tests) and one for the cross-package,
// multi-process integration suite in test/.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: ["packages/core", "packages/adapters", "packages/devserver", "packages/cli", "test"],
  },
});
