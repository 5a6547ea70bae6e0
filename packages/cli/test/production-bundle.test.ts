/**
 * The shipped `baton` (packages/cli/dist, every chunk and source map, as `pnpm run build` leaves it) carries no
 * test-only switch: no protocol fault hooks read from BATON_TEST_HOOK (those live in the integration tests' own build,
 * test/support/hooked-baton.ts), no option that disables the fold checkpoint's proof (`verifyPrefix`), and none of
 * the deliberately broken protocols the property tests run (they wrap ports in core's test support; the protocol has
 * no switches for them).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";

const DIST = join(import.meta.dirname, "..", "dist");
const FORBIDDEN = [
  "BATON_TEST_HOOK",
  "BATON_HOOK",
  "verifyPrefix",
  "ProtocolVariant",
  "skipClaim",
  "skipRereadUnderLock",
  "blankOnInvalidGrant",
  "broken-protocols",
];

it("the production bundle - should contain no test-only switch in any chunk or map", () => {
  expect(existsSync(join(DIST, "baton.mjs")), "build the CLI first: node scripts/toolchain.mjs build").toBe(true);
  const files = readdirSync(DIST, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
  expect(files.filter((file) => file.endsWith(".mjs")).length).toBeGreaterThan(2);
  const found = files.flatMap((file) => {
    const text = readFileSync(file, "utf8");
    return FORBIDDEN.filter((word) => text.includes(word)).map((word) => `${word} in ${file}`);
  });
  expect(found).toEqual([]);
});
