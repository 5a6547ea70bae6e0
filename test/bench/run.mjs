#!/usr/bin/env node
/**
 * baton's benchmark suite (SPEC §7; method and latest figures in docs/performance.md). Not a test: nothing asserts,
 * every figure is measured in this one run and targets are judged as ratios within it.
 *
 *   node test/bench/run.mjs [--quick] [--only=herd,token,embedded,replay,status] [--profile | --no-profile]
 *                           [--sizes=1,32] [--modes=spawned,barrier,warm] [--reps=3] [--no-baselines]
 *                           [--child-flags=--no-lazy]   (Node flags for baton's barrier and warm herd children)
 *
 * Needs the bundled CLI (packages/cli/dist/baton.mjs): `pnpm bench` builds it first. Prints a table and writes the
 * figures to test/bench/results/<timestamp>.json (git-ignored), CPU profiles of missed targets to
 * test/bench/results/<timestamp>-profiles/.
 *
 * Servers: two local authorization servers (oidc-provider with rotation and reuse detection) on 127.0.0.1 only,
 * stopped at the end, on failure and by the watchdog. Every loop is bounded in count and time; every child process
 * has a hard time limit; the whole run has one (30 min, quick 10 min).
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, freemem, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { startAuthorizationServer } from "@baton/adapters/devserver";
import { loggedInHome, REF } from "./lib/account.mjs";
import { buildBundle } from "./lib/bundle.mjs";
import { BATON, BENCH_DIR, fmtMs, fmtRate, fmtRatio, killAllChildren, round, table } from "./lib/common.mjs";
import { profileHerd, runHerdSuite } from "./lib/herd-suite.mjs";
import { benchEmbedded, benchReplay, benchStatus, benchToken } from "./lib/micro.mjs";
import { formatProfile } from "./lib/profile.mjs";

// ------------------------------------------------------------------------------------------------ options

const argv = process.argv.slice(2);
if (argv.includes("--help") || argv.includes("-h")) {
  process.stdout.write(
    "usage: node test/bench/run.mjs [--quick] [--only=herd,token,embedded,replay,status] [--profile|--no-profile]\n",
  );
  process.exit(0);
}
const quick = argv.includes("--quick");
const onlyArg = argv.find((a) => a.startsWith("--only="));
const SECTIONS = ["herd", "token", "embedded", "replay", "status"];
const only = onlyArg === undefined ? SECTIONS : onlyArg.slice("--only=".length).split(",");
for (const name of only) if (!SECTIONS.includes(name)) throw new Error(`unknown section ${name}`);
const profile = argv.includes("--profile") ? true : argv.includes("--no-profile") ? false : !quick;

const config = quick
  ? {
      quick,
      herd: { sizes: [1, 8], batonReps: 1, baselineReps: 1, naiveSizes: [8], modes: ["spawned", "barrier", "warm"] },
      herdProfileN: 8,
      token: { runs: 10, warmup: 2 },
      embedded: { ms: 300, trials: 1 },
      replay: { count: 100_000, trials: 1 },
      status: { accounts: 1000, variants: [20], runs: 3, warmup: 1 },
      timeLimitMs: 10 * 60_000,
    }
  : {
      quick,
      herd: {
        sizes: [1, 8, 32, 64],
        batonReps: 3,
        baselineReps: 1,
        naiveSizes: [1, 8, 32, 64],
        modes: ["spawned", "barrier", "warm"],
      },
      herdProfileN: 32,
      token: { runs: 40, warmup: 3 },
      embedded: { ms: 1000, trials: 3 },
      replay: { count: 100_000, trials: 3 },
      status: { accounts: 1000, variants: [1, 20], runs: 10, warmup: 1 },
      timeLimitMs: 30 * 60_000,
    };

// Narrowing the herd while working on it: --sizes=1,32 --modes=barrier --reps=2 --no-baselines.
const listArg = (name) =>
  argv
    .find((a) => a.startsWith(`--${name}=`))
    ?.slice(name.length + 3)
    .split(",");
const sizesArg = listArg("sizes");
if (sizesArg !== undefined) {
  config.herd.sizes = sizesArg.map(Number);
  config.herd.naiveSizes = config.herd.naiveSizes.filter((n) => config.herd.sizes.includes(n));
}
const modesArg = listArg("modes");
if (modesArg !== undefined) config.herd.modes = modesArg;
const repsArg = listArg("reps");
if (repsArg !== undefined) config.herd.batonReps = Number(repsArg[0]);
const childFlagsArg = argv.find((a) => a.startsWith("--child-flags="));
if (childFlagsArg !== undefined) config.herd.childFlags = childFlagsArg.slice("--child-flags=".length).split(" ");
if (argv.includes("--no-baselines")) {
  config.herd.baselineReps = 0;
  config.herd.naiveSizes = [];
}

const HERD_TTL_S = 6;
const HERD_LATENCY_MS = 100;

// ------------------------------------------------------------------------------------------------ bookkeeping

const log = (line) => process.stdout.write(`${line}\n`);
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const resultsDir = join(BENCH_DIR, "results");
const profileRoot = join(resultsDir, `${stamp}-profiles`);
const cleanups = [];

const cleanupAll = async () => {
  killAllChildren();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
};

const watchdog = setTimeout(() => {
  log(`watchdog: the run exceeded ${config.timeLimitMs / 60_000} min; stopping`);
  cleanupAll().finally(() => process.exit(2));
}, config.timeLimitMs);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    log(`\n${signal}: stopping the servers and the child processes`);
    cleanupAll().finally(() => process.exit(130));
  });
}

const machine = () => {
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  return {
    nproc: cpus().length,
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? "unknown",
    cpuMHz: Number(/^cpu MHz\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? Number.NaN),
    node: process.version,
    kernel: release(),
    memoryGB: round(totalmem() / 2 ** 30, 1),
    freeMemoryGB: round(freemem() / 2 ** 30, 1),
  };
};

/** The 1-minute load average around each section: other work on the machine skews every figure. */
const loads = [];
const noteLoad = (label) => {
  const [one] = loadavg();
  loads.push({ at: label, load1: round(one, 2) });
  if (one > cpus().length)
    log(`  (note: load average ${one.toFixed(1)} on ${cpus().length} CPUs ${label}: other work is running)`);
};

const verdict = (met, gap) => (met ? "MET" : `gap: ${gap}`);

// ------------------------------------------------------------------------------------------------ the run

const main = async () => {
  if (!existsSync(BATON)) throw new Error(`${BATON} is missing: run \`pnpm run build\` (or \`pnpm bench\`)`);
  const results = { startedAt: new Date().toISOString(), machine: machine(), config, sections: only };
  log(
    `baton benchmarks${quick ? " (quick)" : ""}: ${results.machine.nproc} × ${results.machine.cpuModel}, Node ${results.machine.node}`,
  );

  const bundle = await buildBundle();
  cleanups.push(bundle.cleanup);
  const { FileEventStore } = await import(bundle.path);

  const herdServer = await startAuthorizationServer({ accessTokenTtlSeconds: HERD_TTL_S, latencyMs: HERD_LATENCY_MS });
  cleanups.push(() => herdServer.stop());
  const steadyServer = await startAuthorizationServer({ accessTokenTtlSeconds: 3600, latencyMs: 0 });
  cleanups.push(() => steadyServer.stop());
  const needsSteady = only.includes("token") || only.includes("embedded");
  const steady = needsSteady ? await loggedInHome(steadyServer, "steady") : undefined;
  if (steady !== undefined) cleanups.push(steady.cleanup);

  if (only.includes("herd")) {
    noteLoad("before herd");
    log(
      `\n[1/5] herd: ${HERD_TTL_S} s access tokens, ${HERD_LATENCY_MS} ms token endpoint latency, rotation + reuse detection`,
    );
    results.herd = {
      server: { accessTokenTtlSeconds: HERD_TTL_S, latencyMs: HERD_LATENCY_MS },
      ...(await runHerdSuite({ server: herdServer, bundle: bundle.path, ...config.herd, log })),
    };
  }
  if (only.includes("token")) {
    noteLoad("before token");
    log(`\n[2/5] baton token (valid token) vs node -e 0: ${config.token.runs} runs each, interleaved`);
    results.token = await benchToken({
      home: steady.home,
      ref: REF,
      ...config.token,
      profileDir: profile ? profileRoot : undefined,
      log,
    });
    log(
      `  node -e 0 ${fmtMs(results.token.nodeMs.median)}, baton token ${fmtMs(results.token.batonTokenMs.median)}: ${fmtRatio(results.token.ratio)}; full CLI path ${fmtMs(results.token.fullCli.batonTokenMs.median)}`,
    );
  }
  if (only.includes("embedded")) {
    noteLoad("before embedded");
    log(
      `\n[3/5] embedded accessToken() with a valid cached token: ${config.embedded.trials} × ${config.embedded.ms} ms`,
    );
    results.embedded = await benchEmbedded({
      bundle: bundle.path,
      home: steady.home,
      ref: REF,
      ...config.embedded,
      profileDir: profile ? profileRoot : undefined,
      log,
    });
    log(
      `  ${fmtRate(results.embedded.callsPerSecond)} (an empty async function: ${fmtRate(results.embedded.floorCallsPerSecond)})`,
    );
  }
  if (only.includes("replay")) {
    noteLoad("before replay");
    log(`\n[4/5] replay fold: ${config.replay.count.toLocaleString("en")} events × ${config.replay.trials}`);
    results.replay = await benchReplay({
      bundle: bundle.path,
      ...config.replay,
      profileDir: profile ? profileRoot : undefined,
      log,
    });
    log(
      `  ${fmtRate(results.replay.eventsPerSecond)} events (fold ${fmtMs(results.replay.foldMs)}); ` +
        `decoding log lines: ${fmtRate(results.replay.decodeEventsPerSecond)} events; diagnostic fold with one reused ` +
        `actor scope: ${fmtRate(results.replay.reusedScope.eventsPerSecond)} events (same final state: ` +
        `${results.replay.reusedScope.state === results.replay.finalState})`,
    );
  }
  if (only.includes("status")) {
    noteLoad("before status");
    log(
      `\n[5/5] status --json with ${config.status.accounts} accounts: ${config.status.runs} runs, interleaved with node -e 0`,
    );
    results.status = await benchStatus({
      formatLine: FileEventStore.formatLine,
      ...config.status,
      profileDir: profile ? profileRoot : undefined,
      log,
    });
  }

  noteLoad("at the end");
  results.loadAverage = loads;
  results.targets = judge(results);
  const herdMissed = results.targets.some((t) => t.benchmark.startsWith("herd") && !t.met);
  if (only.includes("herd") && profile && herdMissed) {
    log(`\nprofiling the herd's wake-up path (baton, barrier, N=${config.herdProfileN}) …`);
    results.herd.profile = await profileHerd({
      server: herdServer,
      bundle: bundle.path,
      n: config.herdProfileN,
      dir: join(profileRoot, `herd-${config.herdProfileN}`),
      log,
    });
    log(formatProfile(results.herd.profile));
  }
  results.finishedAt = new Date().toISOString();

  report(results);
  await mkdir(resultsDir, { recursive: true });
  const file = join(resultsDir, `${stamp}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  log(`\nresults: ${file}${profile && existsSync(profileRoot) ? `\nprofiles: ${profileRoot}` : ""}`);
};

// ------------------------------------------------------------------------------------------------ targets

const judge = (results) => {
  const targets = [];
  const add = (benchmark, measured, target, met, gap) =>
    targets.push({ benchmark, measured, target, met, verdict: verdict(met, gap) });
  const rows = results.herd?.summary ?? [];
  for (const mode of config.herd.modes) {
    const baton = rows.filter((r) => r.algorithm === "baton" && r.mode === mode);
    if (baton.length === 0) continue;
    const perRotation = baton.map((r) => `N=${r.n}: ${r.refreshesPerRotation}`).join(", ");
    const oneEach = baton.every((r) => r.refreshesPerRotation === 1 && r.reuseErrors === 0);
    add(
      `herd (${mode}): refreshes per rotation`,
      perRotation,
      "1 at every N, 0 reuse",
      oneEach,
      "more than one refresh or reuse errors",
    );
    for (const [n, limit] of [
      [32, 1.3],
      [64, 1.5],
    ]) {
      const row = baton.find((r) => r.n === n);
      if (row === undefined) continue;
      add(
        `herd (${mode}): time-to-all N=${n} / N=1`,
        `${fmtRatio(row.ratioToN1)} (${fmtMs(row.timeToAllMs)})`,
        `≤ ${limit}×`,
        row.ratioToN1 <= limit,
        `${fmtRatio(row.ratioToN1)}, ${fmtRatio(row.ratioToN1 / limit)} the target`,
      );
    }
    // The warm mode has no baseline of its own: seed-003's processes are one-shot, compare with its barrier rounds.
    const baselineMode = mode === "warm" ? "barrier" : mode;
    const claude32 = rows.find((r) => r.algorithm === "claude" && r.mode === baselineMode && r.n === 32);
    const baton32 = baton.find((r) => r.n === 32);
    if (claude32 !== undefined && baton32 !== undefined) {
      const speedup = claude32.timeToAllMs / baton32.timeToAllMs;
      add(
        `herd (${mode}): vs seed-003 at N=32`,
        `${speedup.toFixed(1)}× faster (${fmtMs(baton32.timeToAllMs)} vs ${fmtMs(claude32.timeToAllMs)})`,
        "≥ 10× faster",
        speedup >= 10,
        `${speedup.toFixed(1)}× of the 10× asked`,
      );
    }
    const multi = baton.filter((r) => r.n > 1);
    if (multi.length > 0) {
      const worst = multi.reduce((a, b) => (b.spreadMs > a.spreadMs ? b : a));
      add(
        `herd (${mode}): first→last token spread`,
        multi.map((r) => `N=${r.n}: ${fmtMs(r.spreadMs)}`).join(", "),
        "≤ 10 ms",
        worst.spreadMs <= 10,
        `${fmtMs(worst.spreadMs)} at N=${worst.n}`,
      );
    }
  }
  if (results.token !== undefined) {
    const t = results.token;
    add(
      "baton token / node -e 0",
      `${fmtRatio(t.ratio)} (${fmtMs(t.batonTokenMs.median)} vs ${fmtMs(t.nodeMs.median)})`,
      "≤ 1.5×",
      t.met,
      `${fmtRatio(t.ratio)}: ${fmtMs(t.batonTokenMs.median - 1.5 * t.nodeMs.median)} over`,
    );
  }
  if (results.embedded !== undefined) {
    const e = results.embedded;
    add(
      "embedded accessToken()",
      fmtRate(e.callsPerSecond),
      "≥ 1 M/s",
      e.met,
      `${fmtRate(e.callsPerSecond)}, ${(1e6 / e.callsPerSecond).toFixed(1)}× short`,
    );
  }
  if (results.replay !== undefined) {
    const r = results.replay;
    add(
      "replay fold",
      `${fmtRate(r.eventsPerSecond)} events`,
      "≥ 200 k/s",
      r.met,
      `${fmtRate(r.eventsPerSecond)}, ${(200_000 / r.eventsPerSecond).toFixed(1)}× short`,
    );
  }
  for (const s of results.status ?? []) {
    add(
      `status --json, ${s.accounts} accounts × ${s.eventsPerAccount} events`,
      `${fmtMs(s.beyondNodeMs)} beyond start-up (${fmtMs(s.statusMs.median)} − ${fmtMs(s.nodeMs.median)})`,
      "≤ 300 ms",
      s.met,
      `${fmtMs(s.beyondNodeMs - 300)} over (${(s.beyondNodeMs / 300).toFixed(1)}×)`,
    );
  }
  return targets;
};

// ------------------------------------------------------------------------------------------------ report

const report = (results) => {
  if (results.herd !== undefined) {
    log(
      `\nHERD (median of rounds; time-to-all = from "all N started" (spawned) or GO (barrier) to the last token; ` +
        `refreshes/tokens counted by the server; →claim / →stored: when baton's winner took the claim / stored g+1, ` +
        `from its log, same origin; CPU: user+system of each barrier process from GO to its token)`,
    );
    log(
      table(
        [
          "algorithm",
          "mode",
          "N",
          "rounds",
          "time-to-all",
          "×N=1",
          "from 1st spawn",
          "spread",
          "refresh/rot",
          "token req/rot",
          "reuse err",
          "revoked",
          "valid %",
          "gave up %",
          "torn reads",
          "failed",
          "lock.waited/rot",
          "→claim",
          "→stored",
          "CPU/proc",
          "CPU all",
        ],
        results.herd.summary.map((r) => [
          r.algorithm === "claude" ? "seed-003" : r.algorithm,
          r.mode,
          r.n,
          r.rounds,
          fmtMs(r.timeToAllMs),
          fmtRatio(r.ratioToN1),
          fmtMs(r.fromFirstSpawnMs),
          fmtMs(r.spreadMs),
          r.refreshesPerRotation,
          r.tokenRequestsPerRotation,
          r.reuseErrors,
          r.grantsRevoked,
          r.validPct,
          r.gaveUpPct,
          r.tornReads,
          r.failures,
          r.lockWaitedPerRotation ?? "-",
          r.claimAtMs === undefined ? "-" : fmtMs(r.claimAtMs),
          r.storedAtMs === undefined ? "-" : fmtMs(r.storedAtMs),
          r.cpuMsPerProcess === undefined ? "-" : fmtMs(r.cpuMsPerProcess),
          r.cpuMsAll === undefined ? "-" : fmtMs(r.cpuMsAll),
        ]),
      ),
    );
  }
  const other = [];
  if (results.token !== undefined) {
    const t = results.token;
    other.push([
      "baton token (valid)",
      `${fmtMs(t.batonTokenMs.median)} (p10 ${fmtMs(t.batonTokenMs.p10)}, p90 ${fmtMs(t.batonTokenMs.p90)})`,
      `node -e 0: ${fmtMs(t.nodeMs.median)}; ${t.runs} runs each`,
    ]);
    other.push([
      "baton token, full CLI path",
      fmtMs(t.fullCli.batonTokenMs.median),
      `BATON_DEBUG=1 (no fast path); node -e 0: ${fmtMs(t.fullCli.nodeMs.median)}; ${t.fullCli.runs} runs`,
    ]);
  }
  if (results.embedded !== undefined) {
    const e = results.embedded;
    other.push([
      "embedded accessToken()",
      fmtRate(e.callsPerSecond),
      `empty async fn: ${fmtRate(e.floorCallsPerSecond)}`,
    ]);
  }
  if (results.replay !== undefined) {
    const r = results.replay;
    other.push([
      "replay fold",
      `${fmtRate(r.eventsPerSecond)} events`,
      `${r.events.toLocaleString("en")} events in ${fmtMs(r.foldMs)}; log-line decoding ${fmtRate(r.decodeEventsPerSecond)}`,
    ]);
  }
  for (const s of results.status ?? []) {
    other.push([
      `status --json ${s.accounts}×${s.eventsPerAccount} ev`,
      fmtMs(s.statusMs.median),
      `node -e 0: ${fmtMs(s.nodeMs.median)}; ${s.runs} runs`,
    ]);
  }
  if (other.length > 0) {
    log("\nSINGLE-PROCESS");
    log(table(["benchmark", "measured", "context"], other));
  }
  log("\nTARGETS (SPEC §7)");
  log(
    table(
      ["benchmark", "measured", "target", "verdict"],
      results.targets.map((t) => [t.benchmark, t.measured, t.target, t.verdict]),
    ),
  );
};

try {
  await main();
} catch (error) {
  process.stderr.write(`benchmark run failed: ${error?.stack ?? error}\n`);
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
  await cleanupAll();
}
