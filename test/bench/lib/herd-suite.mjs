/**
 * Benchmark 1, the herd: baton vs the seed-003 baseline vs the naive baseline, each with N processes started at once
 * (spawned) and N processes pre-loaded at a barrier, against one local authorization server (rotation + reuse
 * detection, injected latency, short access tokens). Rounds on different homes are interleaved so that one home's
 * token expires while another's round runs.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loggedInHome, REF, readSecret, sleepUntilExpired, tokenJudge } from "./account.mjs";
import { BATON, BENCH_DIR, median, round } from "./common.mjs";
import { barrierHerd, spawnedHerd } from "./herd.mjs";
import { counterDelta, eventCounts, readEvents } from "./herd-records.mjs";
import { runWarm } from "./herd-warm.mjs";

const CLAUDE = join(BENCH_DIR, "baseline-claude.mjs");
const NAIVE = join(BENCH_DIR, "baseline-naive.mjs");
const BATON_CHILD = join(BENCH_DIR, "children", "baton-barrier.mjs");

/** A baseline's credentials.json, seeded from a fresh baton login (its own grant). */
const baselineHome = async (server, label) => {
  const prepared = await loggedInHome(server, label);
  const secret = await readSecret(prepared.home);
  await writeFile(
    join(prepared.home, "credentials.json"),
    JSON.stringify({ accessToken: secret.accessToken, refreshToken: secret.refreshToken, expiresAt: secret.expiresAt }),
    { mode: 0o600 },
  );
  return prepared;
};

const readBaselineExpiry = async (home) => {
  const { readFile } = await import("node:fs/promises");
  return JSON.parse(await readFile(join(home, "credentials.json"), "utf8")).expiresAt;
};

/**
 * Runs one round and returns its record. `algorithm` is "baton" | "claude" | "naive"; `mode` "spawned" | "barrier".
 */
const runRound = async ({ server, bundle, algorithm, mode, n, home, log, childFlags = [] }) => {
  const expiry = algorithm === "baton" ? (await readSecret(home)).expiresAt : await readBaselineExpiry(home);
  const tokenEndpoint = `${server.issuer}/token`;
  const argsFor =
    algorithm === "baton"
      ? mode === "spawned"
        ? () => [BATON, "token", REF]
        : () => [...childFlags, BATON_CHILD, bundle, home, REF]
      : () => [
          algorithm === "claude" ? CLAUDE : NAIVE,
          home,
          tokenEndpoint,
          server.clientId,
          ...(mode === "barrier" ? ["--barrier"] : []),
        ];
  const env = { BATON_HOME: home, BATON_STORAGE: "file" };
  let before;
  let result;
  const judge = tokenJudge(server);
  const eventsBefore = algorithm === "baton" ? (await readEvents(home)).length : undefined;
  if (mode === "spawned") {
    await sleepUntilExpired(expiry);
    before = server.counters();
    result = await spawnedHerd(n, argsFor, { env, timeoutMs: 90_000, onToken: judge.arrived });
  } else {
    result = await barrierHerd(n, argsFor, {
      env,
      timeoutMs: 150_000,
      readyTimeoutMs: 90_000,
      onToken: judge.arrived,
      beforeGo: async () => {
        await sleepUntilExpired(expiry);
        before = server.counters();
      },
    });
  }
  const counters = counterDelta(before, server.counters());
  // Phases of the round from baton's own log: when the winner took the claim and when it stored g+1, relative to the
  // moment all processes were started (spawned) or released (barrier).
  const appended = eventsBefore === undefined ? undefined : (await readEvents(home)).slice(eventsBefore);
  const events = appended === undefined ? undefined : eventCounts(appended);
  const claimed = appended?.find((e) => e.type === "refresh.claimed");
  const stored = appended?.find((e) => e.type === "credentials.stored" && e.source === "refresh");
  const phases =
    claimed === undefined || stored === undefined
      ? undefined
      : {
          claimMs: round(claimed.at - result.startEpochMs, 1),
          storedMs: round(stored.at - result.startEpochMs, 1),
          lastTokenMs: round(result.afterAllStartedMs, 1),
        };
  const verdicts = await judge.verdicts();
  const valid = result.tokens.filter((token) => verdicts.get(token) === true).length;
  const record = {
    algorithm,
    mode,
    n,
    afterAllStartedMs: round(result.afterAllStartedMs, 1),
    fromFirstSpawnMs: round(result.fromFirstSpawnMs, 1),
    spreadMs: round(result.spreadMs, 1),
    startLoopMs: round(result.startLoopMs, 1),
    loadMs: result.loadMs === undefined ? undefined : round(result.loadMs),
    counters,
    events,
    phases,
    cpuMsPerProcess: result.cpuMs.length === 0 ? undefined : round(median(result.cpuMs), 1),
    cpuMsAll:
      result.cpuMs.length === 0
        ? undefined
        : round(
            result.cpuMs.reduce((a, b) => a + b, 0),
            1,
          ),
    distinctTokens: new Set(result.tokens.filter((t) => t !== undefined)).size,
    validTokens: valid,
    validPct: round((100 * valid) / n, 1),
    gaveUp: result.stats.filter((s) => s.gaveUp === true).length,
    tornReads: result.stats.reduce((sum, s) => sum + (s.tornReads ?? 0), 0),
    failures: result.failures.length,
    failureSamples: result.failures.slice(0, 3),
  };
  log(
    `  ${algorithm.padEnd(6)} ${mode.padEnd(7)} N=${String(n).padStart(2)}: last token ${Math.round(result.afterAllStartedMs)} ms after ` +
      `${mode === "spawned" ? "all were spawned" : "GO"} (from first spawn ${Math.round(result.fromFirstSpawnMs)} ms, ` +
      `spread ${Math.round(result.spreadMs)} ms); server: ${counters.refreshGrants} refresh, ${counters.reuseErrors} reuse errors, ` +
      `${counters.grantsRevoked} revoked; valid ${valid}/${n}` +
      (events === undefined ? "" : `; log: ${JSON.stringify(events)}`) +
      (phases === undefined
        ? ""
        : `; claim at ${Math.round(phases.claimMs)} ms, g+1 stored at ${Math.round(phases.storedMs)} ms`) +
      (record.cpuMsAll === undefined
        ? ""
        : `; CPU from GO to token: ${record.cpuMsPerProcess} ms per process (median), ${Math.round(record.cpuMsAll)} ms in all`) +
      (record.gaveUp > 0 ? `, ${record.gaveUp} gave up` : "") +
      (record.tornReads > 0 ? `, ${record.tornReads} torn reads` : "") +
      (record.failures > 0 ? `, ${record.failures} FAILED: ${record.failureSamples[0]}` : ""),
  );
  return record;
};

/**
 * @param options.sizes N values, e.g. [1, 8, 32, 64]
 * @param options.batonReps rounds per (mode, N) for baton
 * @param options.baselineReps rounds per (mode, N) for the seed-003 baseline
 * @param options.naiveSizes N values for the naive baseline
 */
export const runHerdSuite = async ({
  server,
  bundle,
  sizes,
  batonReps,
  warmReps = batonReps,
  baselineReps,
  naiveSizes,
  modes,
  log,
  childFlags = [],
}) => {
  const homes = [];
  const rounds = [];
  try {
    log("  logging in (one grant per algorithm and mode; one per naive round) …");
    const baton = {};
    const claude = {};
    for (const mode of modes) {
      baton[mode] = await loggedInHome(server, `baton-${mode}`);
      homes.push(baton[mode]);
      if (mode === "warm") continue;
      if (baselineReps > 0) {
        claude[mode] = await baselineHome(server, `claude-${mode}`);
        homes.push(claude[mode]);
      }
    }
    const naive = new Map();
    for (const mode of modes) {
      for (const n of naiveSizes) {
        const prepared = await baselineHome(server, `naive-${mode}-${n}`);
        homes.push(prepared);
        naive.set(`${mode}:${n}`, prepared);
      }
    }
    // The warm mode keeps its processes across rotations: all its rounds for one N run back to back.
    if (modes.includes("warm")) {
      for (const n of sizes) {
        rounds.push(...(await runWarm({ server, bundle, n, home: baton.warm.home, reps: warmReps, log, childFlags })));
      }
    }
    const reps = Math.max(batonReps, baselineReps);
    const oneShotModes = modes.filter((mode) => mode !== "warm");
    for (let rep = 0; rep < reps; rep++) {
      log(`  repetition ${rep + 1}/${reps}`);
      for (const n of sizes) {
        for (const mode of oneShotModes) {
          if (rep < batonReps) {
            rounds.push({
              rep,
              ...(await runRound({
                server,
                bundle,
                algorithm: "baton",
                mode,
                n,
                home: baton[mode].home,
                log,
                childFlags,
              })),
            });
          }
          if (rep < baselineReps) {
            const home = claude[mode];
            const record = await runRound({ server, bundle, algorithm: "claude", mode, n, home: home.home, log });
            rounds.push({ rep, ...record });
            if (record.counters.grantsRevoked > 0) {
              // The baseline lost its grant (a stale-lock takeover can do that): log in again for the next round.
              claude[mode] = await baselineHome(server, `claude-${mode}`);
              homes.push(claude[mode]);
            }
          }
          if (rep === 0 && naive.has(`${mode}:${n}`)) {
            const home = naive.get(`${mode}:${n}`).home;
            rounds.push({ rep, ...(await runRound({ server, bundle, algorithm: "naive", mode, n, home, log })) });
          }
        }
      }
    }
  } finally {
    await Promise.all(homes.map((h) => h.cleanup()));
  }
  return { rounds, summary: summariseHerd(rounds) };
};

/** Medians per (algorithm, mode, N), ratios to N=1 of the same algorithm and mode, and the SPEC targets. */
export const summariseHerd = (rounds) => {
  const groups = new Map();
  for (const r of rounds) {
    const key = `${r.algorithm}|${r.mode}|${r.n}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  const rows = [];
  for (const [key, list] of groups) {
    const [algorithm, mode, n] = key.split("|");
    const sum = (f) => list.reduce((total, r) => total + f(r), 0);
    rows.push({
      algorithm,
      mode,
      n: Number(n),
      rounds: list.length,
      timeToAllMs: round(median(list.map((r) => r.afterAllStartedMs)), 1),
      fromFirstSpawnMs: round(median(list.map((r) => r.fromFirstSpawnMs)), 1),
      spreadMs: round(median(list.map((r) => r.spreadMs)), 1),
      refreshesPerRotation: round(sum((r) => r.counters.refreshGrants) / list.length, 2),
      tokenRequestsPerRotation: round(sum((r) => r.counters.tokenRequests) / list.length, 2),
      reuseErrors: sum((r) => r.counters.reuseErrors),
      grantsRevoked: sum((r) => r.counters.grantsRevoked),
      validPct: round((100 * sum((r) => r.validTokens)) / sum((r) => r.n), 1),
      gaveUpPct: round((100 * sum((r) => r.gaveUp)) / sum((r) => r.n), 1),
      tornReads: sum((r) => r.tornReads),
      failures: sum((r) => r.failures),
      cpuMsPerProcess:
        list[0].cpuMsPerProcess === undefined ? undefined : round(median(list.map((r) => r.cpuMsPerProcess)), 1),
      cpuMsAll: list[0].cpuMsAll === undefined ? undefined : round(median(list.map((r) => r.cpuMsAll)), 1),
      claimAtMs:
        list[0].phases === undefined ? undefined : round(median(list.map((r) => r.phases?.claimMs ?? Number.NaN)), 1),
      storedAtMs:
        list[0].phases === undefined ? undefined : round(median(list.map((r) => r.phases?.storedMs ?? Number.NaN)), 1),
      lockWaitedPerRotation:
        list[0].events === undefined ? undefined : round(sum((r) => r.events?.["lock.waited"] ?? 0) / list.length, 1),
    });
  }
  for (const row of rows) {
    const one = rows.find((r) => r.algorithm === row.algorithm && r.mode === row.mode && r.n === 1);
    row.ratioToN1 = one === undefined ? undefined : round(row.timeToAllMs / one.timeToAllMs, 2);
  }
  const order = { baton: 0, claude: 1, naive: 2 };
  rows.sort((a, b) => order[a.algorithm] - order[b.algorithm] || a.mode.localeCompare(b.mode) || a.n - b.n);
  return rows;
};

/**
 * One extra baton barrier round of `n` processes with each child profiling itself from GO to its token (not part of
 * the figures: profiling slows it down). Returns the summed profile of the herd's wake-up path.
 */
export const profileHerd = async ({ server, bundle, n, dir, log }) => {
  const { mkdir } = await import("node:fs/promises");
  const { profilesIn, summariseProfiles } = await import("./profile.mjs");
  await mkdir(dir, { recursive: true });
  const prepared = await loggedInHome(server, "baton-profile");
  try {
    const expiry = (await readSecret(prepared.home)).expiresAt;
    let before;
    const result = await barrierHerd(n, () => [BATON_CHILD, bundle, prepared.home, REF], {
      env: { BATON_HOME: prepared.home, BATON_STORAGE: "file", BENCH_PROFILE_DIR: dir, BENCH_COUNT_FS: "1" },
      timeoutMs: 150_000,
      beforeGo: async () => {
        await sleepUntilExpired(expiry);
        before = server.counters();
      },
    });
    const counters = counterDelta(before, server.counters());
    log(
      `  profiled baton barrier N=${n}: last token ${Math.round(result.afterAllStartedMs)} ms after GO, spread ` +
        `${Math.round(result.spreadMs)} ms, ${counters.refreshGrants} refresh (under the profiler: slower than unprofiled)`,
    );
    // File-system calls and watch notifications per process between GO and its token.
    const keys = [...new Set(result.fsCounts.flatMap((c) => Object.keys(c)))].sort();
    const fsCallsPerProcess = Object.fromEntries(
      keys.map((key) => {
        const values = result.fsCounts.map((c) => c[key] ?? 0);
        return [key, { median: median(values), max: Math.max(...values), total: values.reduce((a, b) => a + b, 0) }];
      }),
    );
    log(
      `  per process between GO and its token (median / max): ` +
        keys.map((key) => `${key} ${fsCallsPerProcess[key].median}/${fsCallsPerProcess[key].max}`).join(", "),
    );
    return {
      n,
      fsCallsPerProcess,
      cpuMsPerProcess: round(median(result.cpuMs), 1),
      cpuMsAll: round(
        result.cpuMs.reduce((a, b) => a + b, 0),
        1,
      ),
      timeToAllMs: round(result.afterAllStartedMs, 1),
      spreadMs: round(result.spreadMs, 1),
      counters,
      ...summariseProfiles(profilesIn(dir)),
    };
  } finally {
    await prepared.cleanup();
  }
};
