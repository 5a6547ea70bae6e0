/**
 * Headless Chromium for tests of pages baton writes (e.g. `baton replay --html`): Debian's /usr/bin/chromium
 * (installed by scripts/system-deps.sh) driven by playwright-core, which ships no browser of its own. The pinned
 * playwright-core (1.65.2, built for Chromium 159) drives Debian's Chromium 156 over CDP; the smoke test in
 * browser.test.ts checks that pairing whenever either changes.
 *
 * `openBrowser()` starts one browser with a fresh profile in a temporary `--user-data-dir` (Playwright's persistent
 * context: it refuses the flag in `args`) and the flags of a quiet, offline, deterministic run; `browser.open(target)`
 * loads a file path or URL in a new page and collects what went wrong on it — console errors, uncaught exceptions,
 * failed requests — and every URL it requested; `page.screenshot(path)` writes a PNG. `close()` ends the browser and
 * removes the profile; Playwright also kills the browser when the test process exits.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { pathToFileURL } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-quic",
  "--no-first-run",
  "--disable-component-update",
  "--disable-sync",
];

export interface OpenedPage {
  readonly page: Page;
  /** Console messages of type error, uncaught exceptions and failed requests, in order, as readable lines. */
  readonly errors: readonly string[];
  /** Every URL the page requested, the page itself first (a self-contained page requests nothing else). */
  readonly requests: readonly string[];
  /** Writes a PNG of the whole page to `path`. */
  screenshot(path: string): Promise<void>;
}

export interface HeadlessBrowser {
  /** Opens `target` (an absolute file path, or a URL) and waits until it has loaded. */
  open(target: string, options?: { readonly width?: number; readonly height?: number }): Promise<OpenedPage>;
  close(): Promise<void>;
}

function targetUrl(target: string): string {
  if (isAbsolute(target)) return pathToFileURL(target).href;
  return new URL(target).href;
}

export async function openBrowser(): Promise<HeadlessBrowser> {
  const profile = await mkdtemp(join(tmpdir(), "baton-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1024, height: 768 },
    });
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw error;
  }
  let closed: Promise<void> | undefined;
  return {
    open: async (target, { width = 1024, height = 768 } = {}) => {
      const page = await context.newPage();
      const errors: string[] = [];
      const requests: string[] = [];
      page.on("request", (request) => requests.push(request.url()));
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(`console error: ${message.text()}`);
      });
      page.on("pageerror", (error) => errors.push(`uncaught: ${error.message}`));
      page.on("requestfailed", (request) =>
        errors.push(`request failed: ${request.url()} (${request.failure()?.errorText ?? "unknown"})`),
      );
      await page.setViewportSize({ width, height });
      await page.goto(targetUrl(target), { waitUntil: "load" });
      return {
        page,
        errors,
        requests,
        screenshot: async (path) => {
          await page.screenshot({ path, fullPage: true, type: "png" });
        },
      };
    },
    close: () => {
      closed ??= (async () => {
        await context.close();
        await rm(profile, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}
