/**
 * Smoke test of the headless-browser helper (browser.ts) with Debian's Chromium: a tiny self-contained page with an
 * inline SVG renders without a console error into a PNG of the viewport's size, and errors on a page are collected.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, type HeadlessBrowser, openBrowser } from "./browser.ts";

const unavailable = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing: run scripts/system-deps.sh`;
const title = (name: string): string => (unavailable === undefined ? name : `${name} (skipped: ${unavailable})`);

const SWIMLANES = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>two runners, one baton</title>
<style>body { margin: 0; font: 16px sans-serif; background: #fff; } h1 { margin: 16px; font-size: 20px; }</style></head>
<body>
<h1>two runners, one baton</h1>
<svg xmlns="http://www.w3.org/2000/svg" width="600" height="160" viewBox="0 0 600 160">
  <rect x="0" y="0" width="600" height="160" fill="#f4f4f4"/>
  <text x="10" y="45">pid 101</text><rect id="first" x="100" y="25" width="220" height="30" fill="#2b6cb0"/>
  <text x="10" y="115">pid 202</text><rect id="second" x="320" y="95" width="200" height="30" fill="#c05621"/>
  <line x1="320" y1="55" x2="320" y2="95" stroke="#222" stroke-width="2"/>
</svg>
<script>document.title += " (" + document.querySelectorAll("rect").length + " rects)";</script>
</body>
</html>
`;

/** Width and height from a PNG's IHDR chunk (bytes 16-23), after checking the signature. */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(png.subarray(12, 16).toString("ascii")).toBe("IHDR");
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe.skipIf(unavailable !== undefined)(title("openBrowser"), () => {
  let browser: HeadlessBrowser;
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "baton-browser-test-"));
    browser = await openBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await rm(directory, { recursive: true, force: true });
  });

  it("open - should render a self-contained page with an inline SVG, without console errors, into a PNG", async () => {
    const pagePath = join(directory, "swimlanes.html");
    await writeFile(pagePath, SWIMLANES);
    const opened = await browser.open(pagePath, { width: 640, height: 260 });

    expect(await opened.page.title()).toBe("two runners, one baton (3 rects)");
    const second = await opened.page.locator("#second").boundingBox();
    expect(second).toMatchObject({ width: 200, height: 30 });
    const screenshotPath = join(directory, "swimlanes.png");
    await opened.screenshot(screenshotPath);
    expect(opened.errors).toEqual([]);

    const png = await readFile(screenshotPath);
    expect(pngSize(png)).toEqual({ width: 640, height: 260 });
    expect(png.length).toBeGreaterThan(2000);
  });

  it("open - should collect console errors, uncaught exceptions and failed requests", async () => {
    const pagePath = join(directory, "broken.html");
    await writeFile(
      pagePath,
      `<!DOCTYPE html><html><body><img src="missing.png"><script>console.error("lane overflow"); setTimeout(() => { throw new Error("no baton"); });</script></body></html>`,
    );
    const opened = await browser.open(pagePath);
    await opened.page.waitForTimeout(100);
    expect(opened.errors).toEqual(
      expect.arrayContaining([
        "console error: lane overflow",
        "uncaught: no baton",
        expect.stringMatching(/^request failed: file:\/\/.*missing\.png/),
      ]),
    );
  });
});
