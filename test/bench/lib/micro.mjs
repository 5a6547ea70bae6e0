/**
 * Benchmarks 2–5: `baton token` vs `node -e 0`, the embedded hot path, the replay fold, `status --json` with many
 * accounts. Each returns its figures, its target verdict, and (when the target is missed and profiling is on) a CPU
 * profile summary of the slow thing.
 */
import { existsSync, readdirSync, renameSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { BATON, BENCH_DIR, fail, median, quantile, round, runBaton, runNode } from "./common.mjs";
import { formatProfile, profilesIn, summariseProfile } from "./profile.mjs";
import { createStatusHome } from "./status-home.mjs";

const CHILDREN = join(BENCH_DIR, "children");

/** Wall times of `node -e 0` and `command` run alternately, `runs` each, after `warmup` of each. */
const interleaved = async (runs, warmup, command, options = {}) => {
  const node = [];
  const measured = [];
  let last;
  for (let i = 0; i < warmup + runs; i++) {
    const t0 = performance.now();
    const bare = await runNode(["-e", "0"], { timeoutMs: 30_000 });
    const t1 = performance.now();
    if (bare.code !== 0) fail("node -e 0", bare);
    last = await command();
    const t2 = performance.now();
    if (last.code !== 0) fail(options.what ?? "command", last);
    if (i >= warmup) {
      node.push(t1 - t0);
      measured.push(t2 - t1);
    }
  }
  return { node, measured, last };
};

const spreadOf = (values) => ({
  median: round(median(values), 1),
  p10: round(quantile(values, 0.1), 1),
  p90: round(quantile(values, 0.9), 1),
});

const profileOnce = async (profileDir, name, args, env) => {
  const dir = join(profileDir, name);
  await mkdir(dir, { recursive: true });
  const result = await runNode(["--cpu-prof", "--cpu-prof-dir", dir, "--cpu-prof-interval", "100", ...args], {
    env,
    timeoutMs: 120_000,
  });
  if (result.code !== 0) fail(`profiling ${name}`, result);
  const [file] = profilesIn(dir).slice(-1);
  return file === undefined ? undefined : summariseProfile(file);
};

// ------------------------------------------------------------------------------------------- 2. baton token

export const benchToken = async ({ home, ref, runs, warmup, profileDir, log }) => {
  const { node, measured, last } = await interleaved(runs, warmup, () => runBaton(["token", ref], home), {
    what: "baton token",
  });
  const ratio = median(measured) / median(node);
  // For scale (the herd's spawned rounds take this path): the same command through the full CLI, which a process
  // takes whenever the token is not fresh. BATON_DEBUG=1 turns the fast path off (and adds a few stderr lines).
  const full = await interleaved(Math.max(5, Math.round(runs / 4)), 1, () =>
    runBaton(["token", ref], home, { env: { BATON_DEBUG: "1" } }),
  );
  const result = {
    runs,
    nodeMs: spreadOf(node),
    batonTokenMs: spreadOf(measured),
    fullCli: { runs: full.measured.length, nodeMs: spreadOf(full.node), batonTokenMs: spreadOf(full.measured) },
    ratio: round(ratio, 2),
    printedToken: last.stdout.trim().length > 0,
    target: "≤ 1.5 × node -e 0",
    met: ratio <= 1.5,
  };
  if (!result.met && profileDir !== undefined) {
    result.profile = await profileOnce(profileDir, "baton-token", [BATON, "token", ref], {
      BATON_HOME: home,
      BATON_STORAGE: "file",
    });
    log(formatProfile(result.profile));
  }
  return result;
};

// ------------------------------------------------------------------------------------------- 3. embedded

export const benchEmbedded = async ({ bundle, home, ref, ms, trials, profileDir, log }) => {
  const args = [join(CHILDREN, "embedded.mjs"), bundle, home, ref, String(ms), String(trials)];
  const run = await runNode(args, { timeoutMs: 120_000 });
  if (run.code !== 0) fail("embedded benchmark", run);
  const figures = JSON.parse(run.stdout.trim().split("\n").at(-1));
  const result = {
    ...figures,
    callsPerSecond: Math.round(figures.callsPerSecond),
    floorCallsPerSecond: Math.round(figures.floorCallsPerSecond),
    trials: figures.trials.map(Math.round),
    floorTrials: figures.floorTrials.map(Math.round),
    target: "≥ 1,000,000 calls/s",
    met: figures.callsPerSecond >= 1_000_000,
  };
  if (!result.met && profileDir !== undefined) {
    result.profile = await profileOnce(profileDir, "embedded", [
      join(CHILDREN, "embedded.mjs"),
      bundle,
      home,
      ref,
      "1000",
      "1",
    ]);
    log(formatProfile(result.profile));
  }
  return result;
};

// ------------------------------------------------------------------------------------------- 4. replay fold

export const benchReplay = async ({ bundle, count, trials, profileDir, log }) => {
  const run = await runNode([join(CHILDREN, "replay.mjs"), bundle, String(count), String(trials)], {
    timeoutMs: 300_000,
  });
  if (run.code !== 0) fail("replay benchmark", run);
  const figures = JSON.parse(run.stdout.trim().split("\n").at(-1));
  const result = {
    ...figures,
    foldMs: round(figures.foldMs, 1),
    trialsMs: figures.trialsMs.map((t) => round(t, 1)),
    eventsPerSecond: Math.round(figures.eventsPerSecond),
    decodeEventsPerSecond: Math.round(figures.decodeEventsPerSecond),
    reusedScope: { ...figures.reusedScope, eventsPerSecond: Math.round(figures.reusedScope.eventsPerSecond) },
    target: "≥ 200,000 events/s",
    met: figures.eventsPerSecond >= 200_000,
  };
  if (!result.met && profileDir !== undefined) {
    result.profile = await profileOnce(profileDir, "replay", [
      join(CHILDREN, "replay.mjs"),
      bundle,
      String(count),
      "1",
    ]);
    log(formatProfile(result.profile));
  }
  return result;
};

// ------------------------------------------------------------------------------------------- 5. status --json

/** The checkpoint paths (events.fold) of every account of `home`. */
const checkpointPaths = (home) => {
  const root = join(home, "accounts");
  return readdirSync(root).flatMap((provider) =>
    readdirSync(join(root, provider)).map((account) => join(root, provider, account, "events.fold")),
  );
};
/** Renames every checkpoint to `<path>.aside`; returns the paths moved. */
const moveCheckpointsAside = (home) => {
  const moved = checkpointPaths(home).filter((path) => existsSync(path));
  for (const path of moved) renameSync(path, `${path}.aside`);
  return moved;
};
/** Puts the checkpoints back; returns how many. */
const restoreCheckpoints = (moved) => {
  for (const path of moved) renameSync(`${path}.aside`, path);
  return moved.length;
};

export const benchStatus = async ({ formatLine, foldAsRefresh, accounts, variants, runs, warmup, profileDir, log }) => {
  const results = [];
  for (const eventsPerAccount of variants) {
    const prepared = await createStatusHome({ accounts, eventsPerAccount, formatLine, foldAsRefresh });
    try {
      // For scale, the same home without its checkpoints (as a home last refreshed by a build without them): every
      // stream folded from its first event (a read writes a checkpoint only past 256 events).
      const checkpointed = moveCheckpointsAside(prepared.home);
      const first = await interleaved(
        3,
        1,
        () => runBaton(["status", "--json"], prepared.home, { timeoutMs: 60_000 }),
        { what: "baton status --json" },
      );
      const checkpoints = restoreCheckpoints(checkpointed);
      const { node, measured, last } = await interleaved(
        runs,
        warmup,
        () => runBaton(["status", "--json"], prepared.home, { timeoutMs: 60_000 }),
        { what: "baton status --json" },
      );
      const listed = JSON.parse(last.stdout).accounts.length;
      const beyond = median(measured) - median(node);
      const result = {
        accounts,
        eventsPerAccount,
        totalEvents: prepared.totalEvents,
        listed,
        runs,
        nodeMs: spreadOf(node),
        statusMs: spreadOf(measured),
        beyondNodeMs: round(beyond, 1),
        withoutCheckpoints: {
          statusMs: round(median(first.measured), 1),
          beyondNodeMs: round(median(first.measured) - median(first.node), 1),
          runs: first.measured.length,
        },
        checkpoints,
        target: "≤ 300 ms beyond node -e 0",
        met: beyond <= 300 && listed === accounts,
      };
      log(
        `  ${accounts} accounts × ${eventsPerAccount} events: status --json ${Math.round(median(measured))} ms, ` +
          `node -e 0 ${Math.round(median(node))} ms → ${Math.round(beyond)} ms beyond start-up (${listed} listed); ` +
          `${checkpoints} accounts with a checkpoint; without them: ` +
          `${Math.round(result.withoutCheckpoints.beyondNodeMs)} ms beyond start-up`,
      );
      if (!result.met && profileDir !== undefined) {
        const env = { BATON_HOME: prepared.home, BATON_STORAGE: "file" };
        result.profile = await profileOnce(profileDir, `status-${eventsPerAccount}`, [BATON, "status", "--json"], env);
        log(formatProfile(result.profile));
        // How many file-system calls the command makes, per account.
        const counted = await runNode(["--import", join(CHILDREN, "fs-count-preload.mjs"), BATON, "status", "--json"], {
          env,
          timeoutMs: 60_000,
        });
        const line = counted.stderr.split("\n").find((l) => l.startsWith("FSCOUNTS "));
        if (line !== undefined) {
          const counts = JSON.parse(line.slice("FSCOUNTS ".length));
          const total = Object.values(counts).reduce((a, b) => a + b, 0);
          result.fsCallsPerAccount = Object.fromEntries(
            Object.entries(counts).map(([name, n]) => [name, round(n / accounts, 2)]),
          );
          result.fsCallsPerAccount.total = round(total / accounts, 2);
          log(`    file-system calls per account: ${JSON.stringify(result.fsCallsPerAccount)}`);
        }
      }
      results.push(result);
    } finally {
      await prepared.cleanup();
    }
  }
  return results;
};
