/** docs/README.md is the index of the documentation: it links every page in docs/, and only pages that exist. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";

const DOCS = join(import.meta.dirname, "..", "..", "docs");

it("docs/README.md - should link every page of docs/ and no missing page", () => {
  const index = readFileSync(join(DOCS, "README.md"), "utf8");
  const linked = [...index.matchAll(/\]\(([^)#]+\.md)\)/g)].map((match) => match[1] ?? "");
  const pages = readdirSync(DOCS).filter((name) => name.endsWith(".md") && name !== "README.md");
  expect(linked.filter((link) => !existsSync(join(DOCS, link)))).toEqual([]);
  expect(pages.filter((page) => !linked.includes(page))).toEqual([]);
});
