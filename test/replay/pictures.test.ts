/**
 * `baton replay --trace` and `--html` on a real herd: 32 `baton token` processes (the bundled CLI, file stores,
 * oidc-provider with rotation and reuse detection) find the token expired at once; the replay of what they did is
 * written as a Chrome trace and as a page. The trace passes the viewers' structural rules with a named lane for every
 * process of the herd and an arrow from the commit to each adopter; the page renders in Debian's headless Chromium
 * with no console error and no request, shows one lane per process of the herd, and explains a mark on hover. Neither
 * file holds any token the server issued. Also the flags' bad input.
 *
 * The herd runs with BATON_DEBUG=1, which turns `baton token`'s fast path off: every process goes through the
 * protocol and leaves a flight note (a process that finds a fresh token on the fast path needs no refresh and leaves
 * none — docs/replay.md).
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { traceProblems } from "../../packages/cli/test/support/trace-check.ts";
import {
  addProvider,
  type LoggedInAccount,
  loginHeadless,
  REF,
  readSecretRecord,
  waitUntilExpired,
} from "../support/account.ts";
import { runBaton, startBaton, tempHome } from "../support/baton-cli.ts";
import { CHROMIUM, type HeadlessBrowser, openBrowser } from "../support/browser.ts";

const HERD = 32;
const chromium = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing: run scripts/system-deps.sh`;

let server: AuthorizationServer;
let account: LoggedInAccount;
let directory: string;
let pids: ReadonlyArray<number>;
const issued = new Set<string>();

const remember = async () => {
  const record = await readSecretRecord(account.home);
  for (const key of ["accessToken", "refreshToken"]) {
    const value = record[key];
    if (typeof value === "string") issued.add(value);
  }
};

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "baton-replay-test-"));
  // Tokens of 5 s: the 32 processes (about 3 s to spawn on 2 CPUs) all start before generation 2 expires too.
  server = await startAuthorizationServer({ accessTokenTtlSeconds: 5, latencyMs: 100 });
  const { home, cleanup } = await tempHome();
  account = { home, ref: REF, cleanup };
  await addProvider(home, server);
  const redirect = new URL(await loginHeadless(home));
  issued.add(redirect.searchParams.get("code") ?? "");
  await remember();
  await waitUntilExpired(account.home);
  const runs = Array.from({ length: HERD }, () =>
    startBaton(["token", REF], { home: account.home, env: { BATON_DEBUG: "1" } }),
  );
  pids = runs.map((run) => run.child.pid ?? 0);
  const results = await Promise.all(runs.map((run) => run.done));
  expect(results.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([]);
  for (const result of results) issued.add(result.stdout.trim());
  expect(new Set(results.map((r) => r.stdout.trim())).size).toBe(1);
  await remember();
}, 120_000);

afterAll(async () => {
  await account?.cleanup();
  await server?.stop();
  await rm(directory, { recursive: true, force: true });
});

describe("replay pictures of a herd of 32", () => {
  let tracePath: string;
  let htmlPath: string;
  beforeAll(async () => {
    tracePath = join(directory, "herd.json");
    htmlPath = join(directory, "herd.html");
    const result = await runBaton(["replay", REF, "--trace", tracePath, "--html", htmlPath], { home: account.home });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`wrote ${tracePath}: ${HERD + 1} process lanes`);
  });

  it("replay --trace - should pass the viewers' rules, with a named lane for every process of the herd and an arrow from the commit to each adopter", async () => {
    const trace = JSON.parse(await readFile(tracePath, "utf8")) as { traceEvents: Array<Record<string, unknown>> };
    expect(traceProblems(trace)).toEqual([]);
    const threads = trace.traceEvents.filter((e) => e.ph === "M" && e.name === "thread_name");
    expect(new Set(threads.map((e) => e.tid))).toEqual(new Set([...pids, expect.any(Number)]));
    const flights = trace.traceEvents.filter((e) => e.ph === "X" && e.cat === "flight");
    expect(new Set(flights.map((e) => e.tid))).toEqual(new Set(pids));
    const holders = trace.traceEvents.filter((e) => e.ph === "X" && e.cat === "commit");
    expect(holders).toHaveLength(1);
    const arrows = trace.traceEvents.filter((e) => e.ph === "f");
    expect(arrows).toHaveLength(HERD - 1);
    expect(arrows.every((e) => pids.includes(Number(e.tid)) && e.tid !== holders[0]?.tid)).toBe(true);
    const generations = trace.traceEvents.filter((e) => e.ph === "C").map((e) => e.args);
    expect(generations).toEqual([{ generation: 1 }, { generation: 2 }]);
  });

  it("replay --trace and --html - should hold no access token, refresh token or authorization code the server issued", async () => {
    const tokens = [...issued].filter((t) => t.length >= 16);
    expect(tokens.length).toBeGreaterThanOrEqual(5);
    for (const file of [tracePath, htmlPath]) {
      const text = await readFile(file, "utf8");
      expect(tokens.filter((t) => text.includes(t))).toEqual([]);
    }
  });

  describe.skipIf(chromium !== undefined)(
    `in headless Chromium${chromium === undefined ? "" : ` (skipped: ${chromium})`}`,
    () => {
      let browser: HeadlessBrowser;
      beforeAll(async () => {
        browser = await openBrowser();
      });
      afterAll(async () => {
        await browser?.close();
      });

      it("replay --html - should render with no console error and no request, one lane per process of the herd, details on hover", async () => {
        const opened = await browser.open(htmlPath, { width: 1280, height: 900 });
        const herd = opened.page.locator("figure:not(.quiet)");
        expect(await herd.count()).toBe(1);
        const lanes = await herd
          .locator("g.lane")
          .evaluateAll((nodes) => nodes.map((node) => Number(node.getAttribute("data-lane")?.split(":").at(-1))));
        expect(lanes.sort()).toEqual([...pids].sort());
        expect(await opened.page.locator(".verdict.ok").textContent()).toContain("1 refresh for 1 claim");

        await herd.locator("g.slice.commit").hover();
        const tip = opened.page.locator("#tip");
        expect(await tip.isVisible()).toBe(true);
        expect(await tip.textContent()).toMatch(/^commit g2\n/);

        const screenshot = join(directory, "herd.png");
        await opened.screenshot(screenshot);
        expect((await readFile(screenshot)).length).toBeGreaterThan(20_000);
        expect(opened.errors).toEqual([]);
        expect(opened.requests).toHaveLength(1);
      });
    },
  );
});

describe("replay --trace / --html bad input", () => {
  it("given an empty file name or a directory that does not exist, should refuse with a usage error (exit 2) naming the flag", async () => {
    const { home, cleanup } = await tempHome();
    try {
      const empty = await runBaton(["replay", "--html", ""], { home });
      expect(empty.code).toBe(2);
      expect(empty.stderr).toContain("--html: name a file");
      const missing = join(home, "no-such-dir", "t.json");
      const nowhere = await runBaton(["replay", "--trace", missing], { home });
      expect(nowhere.code).toBe(2);
      expect(nowhere.stderr).toContain(`--trace: could not write ${missing} (ENOENT)`);
      const same = await runBaton(["replay", "--trace", "x", "--html", "x"], { home });
      expect(same.code).toBe(2);
    } finally {
      await cleanup();
    }
  });
});
