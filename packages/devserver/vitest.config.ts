// Unit tests of @baton/devserver.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: { name: "devserver", include: ["test/**/*.test.ts"], testTimeout: 30_000 },
});
