/**
 * Makes the pictures in docs/images from real runs — not a test: run it by hand after changing the replay's page or
 * the demo, look at the pictures, and commit them.
 *
 *   node scripts/toolchain.mjs build && node test/replay/docs-pictures.ts
 *
 * - replay-herd.png: `replay --html` of 32 `baton token` processes finding the token expired at once;
 * - replay-stalled.png: a holder whose event loop stalls 2 s after claiming, 8 processes waiting on it;
 * - replay-in-doubt.png: a holder killed after the server rotated, the next processes finding its claim in doubt;
 * - replay-trace.png: the herd's trace in chrome://tracing's viewer, when CATAPULT names a catapult checkout
 *   (`CATAPULT=… node test/replay/docs-pictures.ts`; see traceViewerPage);
 * - demo.png: `baton demo` on a terminal, its final screen with its colours.
 *
 * Everything runs against the local authorization server on 127.0.0.1, in temporary homes removed at the end; the
 * stalled and in-doubt holders run the test-only build with protocol hooks (support/hooked-baton.ts).
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startAuthorizationServer } from "@baton/devserver";
import { addProvider, loginHeadless, REF, startHooked, waitUntilExpired } from "../support/account.ts";
import { BATON, runBaton, startBaton, tempHome } from "../support/baton-cli.ts";
import { openBrowser } from "../support/browser.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const IMAGES = join(ROOT, "docs", "images");
const log = (line: string) => process.stdout.write(`${line}\n`);

const loggedIn = async (ttlSeconds: number) => {
  const server = await startAuthorizationServer({ accessTokenTtlSeconds: ttlSeconds, latencyMs: 100 });
  const { home, cleanup } = await tempHome();
  await addProvider(home, server);
  await loginHeadless(home);
  return {
    home,
    done: async () => {
      await cleanup();
      await server.stop();
    },
  };
};

/** `count` `baton token` processes at once, through the protocol (BATON_DEBUG=1 turns the fast path off). */
const herd = (home: string, count: number) =>
  Promise.all(
    Array.from({ length: count }, () => startBaton(["token", REF], { home, env: { BATON_DEBUG: "1" } }).done),
  );

const replayPage = async (home: string, out: string) => {
  const result = await runBaton(["replay", REF, "--html", out], { home });
  if (result.code !== 0) throw new Error(`replay --html: ${result.stderr}`);
};

const herdPicture = async (work: string) => {
  const { home, done } = await loggedIn(6);
  try {
    await waitUntilExpired(home);
    await herd(home, 32);
    await replayPage(home, join(work, "herd.html"));
    const trace = await runBaton(["replay", REF, "--trace", join(work, "herd.json")], { home });
    if (trace.code !== 0) throw new Error(`replay --trace: ${trace.stderr}`);
  } finally {
    await done();
  }
};

const stalledPicture = async (work: string) => {
  const { home, done } = await loggedIn(6);
  try {
    await waitUntilExpired(home);
    const holder = startHooked(["token", REF], home, "presenting:stall-ms:2000");
    await holder.reached;
    await Promise.all([herd(home, 8), holder.done]);
    await replayPage(home, join(work, "stalled.html"));
  } finally {
    await done();
  }
};

const inDoubtPicture = async (work: string) => {
  const { home, done } = await loggedIn(4);
  try {
    await waitUntilExpired(home);
    const holder = startHooked(["token", REF], home, "answered:hang");
    await holder.reached;
    holder.child.kill("SIGKILL");
    await holder.done;
    await herd(home, 6);
    await replayPage(home, join(work, "in-doubt.html"));
  } finally {
    await done();
  }
};

/** The demo on a pseudo-terminal (script(1)): the screen it leaves, with its colours, as a page. */
const demoPage = async (work: string) => {
  const raw = execFileSync(
    "script",
    ["-qec", `${process.execPath} ${BATON} demo --processes 16 --rounds 3`, "/dev/null"],
    { encoding: "utf8", env: { ...process.env, COLUMNS: "160", TERM: "xterm-256color" }, maxBuffer: 16 * 2 ** 20 },
  );
  // What the terminal shows: each line as left after its last "clear line" (the progress lines are rewritten).
  const lines = raw
    .replace(/\r\n/g, "\n")
    .split("\n")
    .map((line) => line.split("\r\u001b[2K").at(-1) ?? "")
    .map((line) => line.replace(/\r/g, ""));
  while (lines.at(-1) === "") lines.pop();
  const escapeHtml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const colours: Record<string, string> = { "1": "font-weight:700", "31": "color:#ff6b6b", "32": "color:#51cf66" };
  const html = lines
    .map((line) => {
      // SGR sequences (ESC [ n m) open a styled span; 0 closes them all.
      const [first = "", ...rest] = escapeHtml(line).split("\u001b[");
      let open = 0;
      let body = first;
      for (const part of rest) {
        const code = /^(\d+)m/.exec(part)?.[1] ?? "";
        const text = part.slice(code.length + 1);
        if (code === "0") {
          body += "</span>".repeat(open) + text;
          open = 0;
        } else {
          open += 1;
          body += `<span style="${colours[code] ?? ""}">${text}`;
        }
      }
      return body + "</span>".repeat(open);
    })
    .join("\n");
  const page = `<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body { margin: 0; background: #1e1e1e; }
pre { margin: 0; padding: 16px 20px; color: #e6e6e6; font: 13px/1.35 "DejaVu Sans Mono", monospace; white-space: pre; display: inline-block; }
</style></head><body><pre>$ baton demo\n${html}</pre></body></html>`;
  await writeFile(join(work, "demo.html"), page);
};

/**
 * The herd's trace in chrome://tracing's own viewer (catapult's trace viewer, which Chromium no longer lets a headless
 * browser open): its `trace2html` makes one standalone page of the viewer and the trace. Only with CATAPULT set to a
 * checkout of catapult-project/catapult (and python3); nothing of it is kept.
 */
const traceViewerPage = (work: string, catapult: string) =>
  execFileSync("python3", [
    join(catapult, "tracing", "bin", "trace2html"),
    join(work, "herd.json"),
    `--output=${join(work, "trace.html")}`,
  ]);

/**
 * Zooms the trace viewer onto the herd's rotation (its initial view fits the whole trace, the login included): the
 * viewer's own display transform set to the flights' time range, as its zoom keys would.
 */
const zoomTraceViewer = async (page: import("playwright-core").Page, work: string) => {
  const trace = JSON.parse(await readFile(join(work, "herd.json"), "utf8")) as {
    traceEvents: Array<{ ph: string; cat?: string; ts?: number; dur?: number }>;
  };
  const flights = trace.traceEvents.filter((e) => e.ph === "X" && e.cat === "flight");
  const from = Math.min(...flights.map((e) => e.ts ?? 0)) / 1000;
  const to = Math.max(...flights.map((e) => (e.ts ?? 0) + (e.dur ?? 0))) / 1000;
  const margin = (to - from) * 0.04;
  await page.waitForSelector("tr-ui-timeline-track-view");
  await page.waitForTimeout(1_500);
  // The viewer's own objects (catapult's tracing/ui/timeline_track_view.html), driven in the page.
  await page.evaluate(`(() => {
    const view = document.querySelector("tr-ui-timeline-track-view");
    const transform = new tr.ui.TimelineDisplayTransform();
    transform.set(view.viewport.currentDisplayTransform);
    const width = view.modelTrackContainer_.canvas.width / (window.devicePixelRatio || 1);
    transform.xSetWorldBounds(${from - margin}, ${to + margin}, width);
    view.viewport.setDisplayTransformImmediately(transform);
  })()`);
  await page.waitForTimeout(800);
};

/** The test-only build with protocol hooks (test/dist/baton-hooked.mjs), as the integration tests' setup makes it. */
const buildHookedBaton = () => {
  const setup = pathToFileURL(join(ROOT, "test", "support", "hooked-baton.setup.mjs")).href;
  execFileSync(process.execPath, [
    "--input-type=module",
    "-e",
    `import(${JSON.stringify(setup)}).then((m) => m.default())`,
  ]);
};

const main = async () => {
  buildHookedBaton();
  const work = await mkdtemp(join(tmpdir(), "baton-docs-pictures-"));
  await mkdir(IMAGES, { recursive: true });
  const browser = await openBrowser();
  try {
    log("herd of 32 …");
    await herdPicture(work);
    log("stalled holder …");
    await stalledPicture(work);
    log("in-doubt holder …");
    await inDoubtPicture(work);
    log("demo …");
    await demoPage(work);
    for (const [page, image, width] of [
      ["herd.html", "replay-herd.png", 1240],
      ["stalled.html", "replay-stalled.png", 1240],
      ["in-doubt.html", "replay-in-doubt.png", 1240],
      ["demo.html", "demo.png", 1180],
    ] as const) {
      const opened = await browser.open(join(work, page), { width, height: 400 });
      if (opened.errors.length > 0) throw new Error(`${page}: ${opened.errors.join("; ")}`);
      await opened.screenshot(join(IMAGES, image));
      log(`  docs/images/${image}`);
    }
    const catapult = process.env.CATAPULT;
    if (catapult === undefined) log("  (CATAPULT not set: docs/images/replay-trace.png left as it is)");
    else {
      traceViewerPage(work, catapult);
      const opened = await browser.open(join(work, "trace.html"), { width: 1400, height: 1000 });
      await zoomTraceViewer(opened.page, work);
      await opened.page.screenshot({ path: join(IMAGES, "replay-trace.png") });
      log("  docs/images/replay-trace.png");
    }
  } finally {
    await browser.close();
    await rm(work, { recursive: true, force: true });
  }
};

await main();
