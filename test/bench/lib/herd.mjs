/**
 * Herd rounds: N processes that all need a token at once, on one shared home, against the local authorization server.
 *
 * - spawned: N fresh `node …` processes are started in one loop. Times (parent's clock, at the arrival of each
 *   `TOKEN`/first stdout line): `afterAllStartedMs` from the return of the last spawn() to the last token,
 *   `fromFirstSpawnMs` from the first spawn() to the last token, `spreadMs` first → last token.
 * - barrier: N processes are started and load everything first, each prints READY and waits for a line on stdin.
 *   Once all are ready (and the caller's `beforeGo` resolved, e.g. the token expired) one `GO` line is written to
 *   each; `afterAllStartedMs` then runs from the first write to the last token: the algorithm's own time-to-all,
 *   without Node's start-up.
 */
import { startNode } from "./common.mjs";

const collect = (n, argsFor, options) => {
  const arrivals = [];
  const runs = Array.from({ length: n }, (_, index) => {
    const record = {
      index,
      token: undefined,
      tokenAt: undefined,
      stats: undefined,
      fsCounts: undefined,
      readyAt: undefined,
    };
    const started = startNode(argsFor(index), {
      env: options.env,
      stdin: options.barrier ? "pipe" : "ignore",
      timeoutMs: options.timeoutMs ?? 90_000,
      onLine: (stream, line, at) => {
        if (stream !== "stdout") return;
        if (line === "READY") {
          record.readyAt = at;
          options.onReady?.();
        } else if (record.tokenAt === undefined && (line.startsWith("TOKEN ") || !options.tokenPrefix)) {
          record.tokenAt = at;
          record.token = line.startsWith("TOKEN ") ? line.slice(6) : line;
          arrivals.push(at);
          options.onToken?.(record.token, at);
        } else if (line.startsWith("CPU ")) {
          const cpu = JSON.parse(line.slice(4));
          record.cpuMs = cpu.userMs + cpu.systemMs;
        } else if (line.startsWith("FSCOUNTS ")) {
          record.fsCounts = JSON.parse(line.slice(9));
        } else if (line.startsWith("STATS ")) {
          try {
            record.stats = JSON.parse(line.slice(6));
          } catch {
            record.stats = { unparsable: true };
          }
        }
      },
    });
    return { record, started };
  });
  return { runs, arrivals };
};

const summarise = (runs, results, t0, tAll, extra = {}) => {
  const records = runs.map((r) => r.record);
  const arrivals = records.map((r) => r.tokenAt).filter((at) => at !== undefined);
  const first = Math.min(...arrivals);
  const last = Math.max(...arrivals);
  const failures = results
    .map((result, index) => ({ result, record: records[index] }))
    .filter(({ result, record }) => result.code !== 0 || record.token === undefined || record.token === "")
    .map(
      ({ result }) =>
        `exit ${result.code}${result.signal ? ` ${result.signal}` : ""}: ${result.stderr.trim().slice(0, 300)}`,
    );
  return {
    n: runs.length,
    withToken: arrivals.length,
    afterAllStartedMs: arrivals.length === 0 ? Number.NaN : last - tAll,
    fromFirstSpawnMs: arrivals.length === 0 ? Number.NaN : last - t0,
    spreadMs: arrivals.length === 0 ? Number.NaN : last - first,
    startLoopMs: tAll - t0,
    /** Wall-clock time (ms since the epoch) of the reference point of `afterAllStartedMs`, to place logged events. */
    startEpochMs: performance.timeOrigin + tAll,
    tokens: records.map((r) => r.token),
    stats: records.map((r) => r.stats).filter((s) => s !== undefined),
    fsCounts: records.map((r) => r.fsCounts).filter((c) => c !== undefined),
    cpuMs: records.map((r) => r.cpuMs).filter((c) => c !== undefined),
    failures,
    ...extra,
  };
};

/** N processes spawned at once; each prints its token (optionally prefixed `TOKEN `). */
export const spawnedHerd = async (n, argsFor, options = {}) => {
  const t0 = performance.now();
  const { runs } = collect(n, argsFor, { ...options, barrier: false });
  const tAll = performance.now();
  const results = await Promise.all(runs.map((r) => r.started.done));
  return summarise(runs, results, t0, tAll);
};

/**
 * N processes started, awaited at a barrier (READY), then released together after `beforeGo()`. Processes that are
 * not ready within `readyTimeoutMs` are killed and the round is reported as failed.
 */
export const barrierHerd = async (n, argsFor, options = {}) => {
  let ready = 0;
  let allReady;
  const everyoneReady = new Promise((resolve) => {
    allReady = resolve;
  });
  const loadStart = performance.now();
  const { runs } = collect(n, argsFor, {
    ...options,
    barrier: true,
    tokenPrefix: true,
    onReady: () => {
      ready += 1;
      if (ready === n) allReady();
    },
  });
  const readyTimeout = new Promise((resolve) => setTimeout(resolve, options.readyTimeoutMs ?? 90_000, "timeout"));
  const outcome = await Promise.race([
    everyoneReady,
    readyTimeout,
    ...runs.map((r) => r.started.done.then(() => "exit")),
  ]);
  if (outcome !== undefined && ready < n) {
    for (const r of runs) r.started.child.kill("SIGKILL");
    await Promise.all(runs.map((r) => r.started.done));
    throw new Error(`barrier herd: only ${ready}/${n} processes became ready (${outcome})`);
  }
  const loadMs = performance.now() - loadStart;
  await options.beforeGo?.();
  const tGo = performance.now();
  for (const r of runs) r.started.child.stdin.write("GO\n");
  const tAll = performance.now();
  for (const r of runs) r.started.child.stdin.end();
  const results = await Promise.all(runs.map((r) => r.started.done));
  return summarise(runs, results, tGo, tGo, { loadMs, goWriteMs: tAll - tGo });
};

/**
 * N long-lived processes (children/baton-warm.mjs) released together `rounds` times: before each round
 * `beforeRound(r)` runs (e.g. wait until the token expired), then one `GO` line goes to each and the round ends when
 * every process printed its token. Round 0 meets cold code; the later rounds measure warm processes. Returns one
 * summary per round (same fields as {@link barrierHerd}'s).
 */
export const warmHerd = async (n, argsFor, options = {}) => {
  const perRound = [];
  let ready = 0;
  let current;
  const records = Array.from({ length: n }, () => ({ tokens: [], tokenAt: [], cpuMs: [], fsCounts: [] }));
  const runs = records.map((record, index) =>
    startNode(argsFor(index), {
      env: options.env,
      stdin: "pipe",
      timeoutMs: options.timeoutMs ?? 300_000,
      onLine: (stream, line, at) => {
        if (stream !== "stdout") return;
        if (line === "READY") {
          ready += 1;
          if (ready === n) current?.();
        } else if (line.startsWith("TOKEN ")) {
          record.tokens.push(line.slice(6));
          record.tokenAt.push(at);
          options.onToken?.(line.slice(6), at);
        } else if (line.startsWith("CPU ")) {
          const cpu = JSON.parse(line.slice(4));
          record.cpuMs.push(cpu.userMs + cpu.systemMs);
          current?.();
        } else if (line.startsWith("FSCOUNTS ")) {
          record.fsCounts.push(JSON.parse(line.slice(9)));
        }
      },
    }),
  );
  const until = (predicate, limitMs, what) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`warm herd: ${what} within ${limitMs} ms`)), limitMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        current = undefined;
        resolve();
      };
      current = check;
      check();
    });
  try {
    await until(() => ready === n, options.readyTimeoutMs ?? 90_000, `only ${ready}/${n} processes became ready`);
    for (let r = 0; r < options.rounds; r++) {
      await options.beforeRound?.(r);
      const tGo = performance.now();
      for (const run of runs) run.child.stdin.write("GO\n");
      await until(() => records.every((rec) => rec.cpuMs.length > r), 60_000, `round ${r} not answered`);
      const arrivals = records.map((rec) => rec.tokenAt[r]);
      const last = Math.max(...arrivals);
      perRound.push({
        n,
        round: r,
        afterAllStartedMs: last - tGo,
        fromFirstSpawnMs: last - tGo,
        spreadMs: last - Math.min(...arrivals),
        startEpochMs: performance.timeOrigin + tGo,
        tokens: records.map((rec) => rec.tokens[r]),
        cpuMs: records.map((rec) => rec.cpuMs[r]),
        // FSCOUNTS of the previous round (printed after its token, so complete by now); children/baton-warm.mjs.
        fsCounts: records.flatMap((rec) => rec.fsCounts.splice(0)),
        failures: records.filter((rec) => rec.tokens[r] === "").map(() => "accessToken failed"),
      });
      await options.afterRound?.(r, perRound.at(-1));
    }
  } finally {
    for (const run of runs) run.child.stdin.end();
    await Promise.all(runs.map((run) => run.done));
  }
  return perRound;
};
