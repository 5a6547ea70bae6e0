/** The embedding guide's example must be the type-checked file, verbatim (docs/embedding.md). */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect, it } from "vitest";

it("docs/embedding.md - should show docs/examples/embedding-host.ts verbatim", async () => {
  const docs = join(import.meta.dirname, "..", "..", "docs");
  const page = await readFile(join(docs, "embedding.md"), "utf8");
  const example = await readFile(join(docs, "examples", "embedding-host.ts"), "utf8");
  expect(page).toContain(`\`\`\`ts\n${example}\`\`\``);
});
