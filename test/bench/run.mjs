#!/usr/bin/env node
/**
 * baton's benchmark suite (SPEC §7; method and latest figures in docs/performance.md). Not a test: nothing asserts,
 * every figure is measured in this one run and targets are judged as ratios within it.
 *
 *   node test/bench/run.mjs [--quick] [--only=herd,token,embedded,replay,status,serve,postgres] [--profile | --no-profile]
 *                           [--sizes=1,32] [--modes=spawned,barrier,warm] [--reps=3] [--warm-reps=7] [--no-baselines]
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
import { startAuthorizationServer } from "@baton/devserver";
import { loggedInHome, REF } from "./lib/account.mjs";
import { buildBundle } from "./lib/bundle.mjs";
import { BATON, BENCH_DIR, fmtMs, fmtRate, fmtRatio, killAllChildren, round } from "./lib/common.mjs";
import { judgePostgres, reportPostgres, runPostgresSuite } from "./lib/herd-postgres.mjs";
import { profileHerd, runHerdSuite } from "./lib/herd-suite.mjs";
import { benchEmbedded, benchReplay, benchStatus, benchToken } from "./lib/micro.mjs";
import { formatProfile } from "./lib/profile.mjs";
import { judge, report } from "./lib/report.mjs";
import { benchServe, judgeServe } from "./lib/serve.mjs";

// ------------------------------------------------------------------------------------------------ options

const argv = process.argv.slice(2);
if (argv.includes("--help") || argv.includes("-h")) {
  process.stdout.write(
    "usage: node test/bench/run.mjs [--quick] [--only=herd,token,embedded,replay,status,serve,postgres] [--profile|--no-profile]\n",
  );
  process.exit(0);
}
const quick = argv.includes("--quick");
const onlyArg = argv.find((a) => a.startsWith("--only="));
const SECTIONS = ["herd", "token", "embedded", "replay", "status", "serve", "postgres"];
const only = onlyArg === undefined ? SECTIONS : onlyArg.slice("--only=".length).split(",");
for (const name of only) if (!SECTIONS.includes(name)) throw new Error(`unknown section ${name}`);
const profile = argv.includes("--profile") ? true : argv.includes("--no-profile") ? false : !quick;

const config = quick
  ? {
      quick,
      herd: {
        sizes: [1, 8],
        batonReps: 1,
        warmReps: 1,
        baselineReps: 1,
        naiveSizes: [8],
        modes: ["spawned", "barrier", "warm"],
      },
      herdProfileN: 8,
      token: { runs: 10, warmup: 2 },
      embedded: { ms: 300, trials: 1 },
      replay: { count: 100_000, trials: 1 },
      status: { accounts: 1000, variants: [20], runs: 3, warmup: 1 },
      serve: { sizes: [1, 64], reps: 3, tokenRuns: 10, rotations: 2 },
      postgres: { sizes: [1, 32], machines: [1, 4], reps: 1, warmSizes: [], warmReps: 1, tokenRuns: 10 },
      timeLimitMs: 10 * 60_000,
    }
  : {
      quick,
      herd: {
        sizes: [1, 8, 32, 64],
        batonReps: 3,
        // A warm rotation costs one token lifetime (6 s) and no start-ups: 7 of them steady its medians.
        warmReps: 7,
        baselineReps: 1,
        naiveSizes: [1, 8, 32, 64],
        modes: ["spawned", "barrier", "warm"],
      },
      herdProfileN: 32,
      token: { runs: 40, warmup: 3 },
      embedded: { ms: 1000, trials: 3 },
      replay: { count: 100_000, trials: 3 },
      status: { accounts: 1000, variants: [1, 20], runs: 10, warmup: 1 },
      serve: { sizes: [1, 8, 64], reps: 9, tokenRuns: 40, rotations: 5 },
      postgres: {
        sizes: [1, 8, 32, 64],
        machines: [1, 2, 4, 8],
        reps: 3,
        warmSizes: [1, 32],
        warmReps: 3,
        tokenRuns: 40,
      },
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
if (repsArg !== undefined) config.herd.batonReps = config.herd.warmReps = Number(repsArg[0]);
const warmRepsArg = listArg("warm-reps");
if (warmRepsArg !== undefined) config.herd.warmReps = Number(warmRepsArg[0]);
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

// ------------------------------------------------------------------------------------------------ the run

const main = async () => {
  if (!existsSync(BATON)) throw new Error(`${BATON} is missing: run \`pnpm run build\` (or \`pnpm bench\`)`);
  const results = { startedAt: new Date().toISOString(), machine: machine(), config, sections: only };
  log(
    `baton benchmarks${quick ? " (quick)" : ""}: ${results.machine.nproc} × ${results.machine.cpuModel}, Node ${results.machine.node}`,
  );

  const bundle = await buildBundle();
  cleanups.push(bundle.cleanup);
  const { Effect, FileEventStore, DEFAULT_THRESHOLD_MS } = await import(bundle.path);

  const herdServer = await startAuthorizationServer({ accessTokenTtlSeconds: HERD_TTL_S, latencyMs: HERD_LATENCY_MS });
  cleanups.push(() => herdServer.stop());
  const steadyServer = await startAuthorizationServer({ accessTokenTtlSeconds: 3600, latencyMs: 0 });
  cleanups.push(() => steadyServer.stop());
  const needsSteady = only.includes("token") || only.includes("embedded") || only.includes("serve");
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
      // What a refresh's fold under the lock leaves (a checkpoint once it went through 16 events): the product's own
      // file event store, asked to fold as a refresh does.
      foldAsRefresh: (home, ref) =>
        Effect.runPromise(
          FileEventStore.make({ home }, { host: "bench-host", pid: 1 }).fold(ref, DEFAULT_THRESHOLD_MS, "refresh"),
        ),
      ...config.status,
      profileDir: profile ? profileRoot : undefined,
      log,
    });
  }

  if (only.includes("serve")) {
    noteLoad("before serve");
    log(
      `\n[serve] the broker: ${config.serve.sizes.join("/")} warm thin clients on a fresh token; thin baton token vs node -e 0; rotations due (${HERD_TTL_S} s tokens, ${HERD_LATENCY_MS} ms latency)`,
    );
    const rotating = await loggedInHome(herdServer, "serve");
    cleanups.push(rotating.cleanup);
    results.serve = await benchServe({ steady, herd: rotating, herdServer, ref: REF, ...config.serve, log });
  }
  if (only.includes("postgres")) {
    noteLoad("before postgres");
    log(
      `\n[6/6] many machines on one PostgreSQL store: herds through the database, the file store beside them, baton token`,
    );
    results.postgres = await runPostgresSuite({
      herdServer,
      steadyServer,
      bundle: bundle.path,
      config: config.postgres,
      log,
    });
  }

  noteLoad("at the end");
  results.loadAverage = loads;
  results.targets = [
    ...judge(results, config.herd.modes),
    ...(results.serve === undefined ? [] : judgeServe(results.serve, fmtRatio, fmtMs)),
    ...(results.postgres === undefined ? [] : judgePostgres(results.postgres)),
  ];
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

  report(results, log);
  if (results.postgres !== undefined) reportPostgres(results.postgres, log);
  await mkdir(resultsDir, { recursive: true });
  const file = join(resultsDir, `${stamp}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  log(`\nresults: ${file}${profile && existsSync(profileRoot) ? `\nprofiles: ${profileRoot}` : ""}`);
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
