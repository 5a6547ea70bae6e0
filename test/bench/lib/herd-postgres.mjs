/**
 * Benchmark 6, many machines on one PostgreSQL store (issue #15; docs/scale-out.md): a throwaway PostgreSQL 15
 * cluster (test/support/postgres.ts, fsync on, max_connections 300) on this machine, one database per store, the
 * store key random per store. A "machine" is a BATON_HOME and a BATON_MACHINE_ID (children/as-machine.mjs); the
 * processes of a herd are spread over the machines round-robin and share nothing but BATON_STORE and its key.
 *
 * - herd through the database, barrier mode (the processes load baton first, then all ask at once): N = 1, 8, 32, 64
 *   on 4 machines; then N = 32 on 1, 2, 4 and 8 machines; and the file store's barrier herd at N = 1 and 32 beside it
 *   in the same run. Warm mode (the same processes through several rotations) at N = 1 and 32 on 4 machines.
 * - `baton token` with a fresh token read from the database (the fast path: one connection, one query) vs `node -e 0`,
 *   interleaved pairs; and the full CLI path for scale.
 *
 * Counted per rotation: the server's refresh grants and reuse errors, and the events the store appended (one
 * `refresh.claimed` and one `credentials.stored` expected).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { approveAuthorization } from "@baton/devserver";
import pg from "pg";
import { startPostgres } from "../../support/postgres.ts";
import { loggedInHome, PROVIDER, REF, readSecret, sleepUntilExpired, tokenJudge } from "./account.mjs";
import { BATON, BENCH_DIR, fail, fmtMs, fmtRatio, median, round, runNode, startNode, table } from "./common.mjs";
import { barrierHerd, warmHerd } from "./herd.mjs";
import { counterDelta } from "./herd-records.mjs";

const AS_MACHINE = join(BENCH_DIR, "children", "as-machine.mjs");
const BARRIER_CHILD = join(BENCH_DIR, "children", "baton-barrier.mjs");
const WARM_CHILD = join(BENCH_DIR, "children", "baton-warm.mjs");
const WARMUP_ROUNDS = 2;

/** A store: a fresh database and key, `machines` homes; `demo:you` logged in on machine 0 against `server`. */
const makeStore = async (postgres, server, machines, label) => {
  const database = `bench_${label}_${randomBytes(3).toString("hex")}`;
  await postgres.query(`CREATE DATABASE ${database}`);
  const env = {
    BATON_STORE: postgres.url(database),
    BATON_STORE_KEY: randomBytes(32).toString("hex"),
    BATON_STORAGE: "",
  };
  const homes = await Promise.all(
    Array.from({ length: machines }, () => mkdtemp(join(tmpdir(), `baton-bench-pg-${label}-`))),
  );
  const machineEnv = (index) => ({
    ...env,
    BATON_HOME: homes[index % machines],
    BATON_MACHINE_ID: `m${index % machines}`,
  });
  const baton = (args, index = 0, extra = {}) =>
    runNode([BATON, ...args], { env: { ...machineEnv(index), ...extra }, timeoutMs: 60_000 });
  const added = await baton([
    "provider",
    "add",
    PROVIDER,
    "--issuer",
    server.issuer,
    "--client-id",
    server.clientId,
    "--scope",
    server.scopes,
  ]);
  if (added.code !== 0) fail("baton provider add (postgres)", added);
  let approval;
  let buffered = "";
  const { done } = startNode([BATON, "login", REF, "--no-browser", "--no-device"], {
    env: machineEnv(0),
    timeoutMs: 30_000,
    onLine: (stream, line) => {
      if (stream !== "stderr" || approval !== undefined) return;
      buffered += `${line}\n`;
      const url = /^(https?:\/\/\S+)$/m.exec(buffered)?.[1];
      if (url !== undefined) approval = approveAuthorization(url, { deliver: true }).catch((error) => error);
    },
  });
  const login = await done;
  if ((await approval) instanceof Error || login.code !== 0) fail("baton login (postgres)", login);
  const expiresAt = async () => {
    const status = await baton(["status", REF, "--json"]);
    if (status.code !== 0) fail("baton status (postgres)", status);
    return JSON.parse(status.stdout).accounts[0].expiresAt;
  };
  const events = async () => {
    const client = new pg.Client({ host: postgres.socketDir, port: postgres.port, user: "postgres", database });
    await client.connect();
    try {
      const { rows } = await client.query(
        "SELECT record->>'type' AS type, (record->>'at')::float8 AS at, record->>'source' AS source FROM baton.events ORDER BY seq",
      );
      return rows;
    } finally {
      await client.end();
    }
  };
  return {
    label,
    machines,
    machineEnv,
    baton,
    expiresAt,
    events,
    cleanup: () => Promise.all(homes.map((home) => rm(home, { recursive: true, force: true }))),
  };
};

const counts = (events) => {
  const found = {};
  for (const { type } of events) found[type] = (found[type] ?? 0) + 1;
  return found;
};

/** When the winner took the claim and stored g+1, from the store's events, in ms after `origin` (ms since the epoch). */
const phasesOf = (events, origin) => {
  const claimed = events.find((e) => e.type === "refresh.claimed");
  const stored = events.find((e) => e.type === "credentials.stored" && e.source === "refresh");
  return claimed === undefined || stored === undefined
    ? undefined
    : { claimMs: round(claimed.at - origin, 1), storedMs: round(stored.at - origin, 1) };
};

/** The record of one round (its counters, the events the store appended, the tokens judged), as the report keeps it. */
const recordOf = async ({ store, mode, machines, n, result, counters, appended, judge }) => {
  const verdicts = await judge.verdicts();
  return {
    store,
    mode,
    machines,
    n,
    timeToAllMs: round(result.afterAllStartedMs, 1),
    spreadMs: round(result.spreadMs, 1),
    counters,
    events: appended === undefined ? undefined : counts(appended),
    phases: appended === undefined ? undefined : phasesOf(appended, result.startEpochMs),
    validTokens: result.tokens.filter((token) => verdicts.get(token) === true).length,
    distinctTokens: new Set(result.tokens.filter((t) => t !== undefined)).size,
    failures: result.failures.length,
    cpuMsPerProcess: result.cpuMs.length === 0 ? undefined : round(median(result.cpuMs), 1),
  };
};

/** A round's log line. */
const describe = (record, result) => {
  const { counters, events, phases } = record;
  return (
    `  ${record.store.padEnd(8)} ${record.mode.padEnd(7)} ${record.machines} machine(s) N=${String(record.n).padStart(2)}: ` +
    `last token ${Math.round(record.timeToAllMs)} ms after GO (spread ${Math.round(record.spreadMs)} ms); ` +
    `server: ${counters.refreshGrants} refresh, ${counters.reuseErrors} reuse errors; valid ${record.validTokens}/${record.n}` +
    (events === undefined ? "" : `; store events: ${JSON.stringify(events)}`) +
    (phases === undefined
      ? ""
      : `; claim at ${Math.round(phases.claimMs)} ms, g+1 stored at ${Math.round(phases.storedMs)} ms`) +
    (record.failures > 0 ? `; ${record.failures} FAILED: ${result.failures[0]}` : "")
  );
};

/** One barrier round of `n` processes over `store` (or over the file `home`); returns its record. */
const barrierRound = async ({ server, bundle, n, store, home, log }) => {
  const judge = tokenJudge(server);
  let before;
  const eventsBefore = store === undefined ? undefined : (await store.events()).length;
  const expiry = store === undefined ? (await readSecret(home)).expiresAt : await store.expiresAt();
  const argsFor =
    store === undefined
      ? () => [BARRIER_CHILD, bundle, home, REF]
      : (index) => [
          AS_MACHINE,
          `m${index % store.machines}`,
          BARRIER_CHILD,
          bundle,
          store.machineEnv(index).BATON_HOME,
          REF,
        ];
  const result = await barrierHerd(n, argsFor, {
    env: store === undefined ? { BATON_HOME: home, BATON_STORAGE: "file" } : store.machineEnv(0),
    timeoutMs: 150_000,
    readyTimeoutMs: 120_000,
    onToken: judge.arrived,
    beforeGo: async () => {
      await sleepUntilExpired(expiry);
      before = server.counters();
    },
  });
  const counters = counterDelta(before, server.counters());
  const appended = store === undefined ? undefined : (await store.events()).slice(eventsBefore);
  const record = await recordOf({
    store: store === undefined ? "file" : "postgres",
    mode: "barrier",
    machines: store?.machines ?? 1,
    n,
    result,
    counters,
    appended,
    judge,
  });
  log(describe(record, result));
  return record;
};

/** The warm herd: the same `n` processes over `store` through WARMUP_ROUNDS + `reps` rotations. */
const warmRounds = async ({ server, bundle, n, store, reps, log }) => {
  const records = [];
  let judge;
  let before;
  let eventsBefore;
  await warmHerd(
    n,
    (index) => [AS_MACHINE, `m${index % store.machines}`, WARM_CHILD, bundle, store.machineEnv(index).BATON_HOME, REF],
    {
      env: store.machineEnv(0),
      rounds: WARMUP_ROUNDS + reps,
      onToken: (token, at) => judge?.arrived(token, at),
      beforeRound: async () => {
        await sleepUntilExpired(await store.expiresAt());
        judge = tokenJudge(server);
        eventsBefore = (await store.events()).length;
        before = server.counters();
      },
      afterRound: async (r, result) => {
        const counters = counterDelta(before, server.counters());
        const appended = (await store.events()).slice(eventsBefore);
        const record = await recordOf({
          store: "postgres",
          mode: "warm",
          machines: store.machines,
          n,
          result,
          counters,
          appended,
          judge,
        });
        if (r < WARMUP_ROUNDS) return;
        log(describe(record, result));
        records.push(record);
      },
    },
  );
  return records;
};

/** `node -e 0` and `baton token` interleaved, on `store` (a token valid for an hour). */
const tokenPairs = async (store, runs, warmup, extra = {}) => {
  const node = [];
  const baton = [];
  let printed = false;
  for (let i = 0; i < runs + warmup; i++) {
    const n = await runNode(["-e", "0"], { timeoutMs: 30_000 });
    const b = await store.baton(["token", REF], 0, extra);
    if (b.code !== 0) fail("baton token (postgres)", b);
    printed = b.stdout.trim().length > 0;
    if (i < warmup) continue;
    node.push(n.endedAt - n.spawnedAt);
    baton.push(b.endedAt - b.spawnedAt);
  }
  return { nodeMs: round(median(node), 1), batonTokenMs: round(median(baton), 1), printed };
};

/** Medians per (store, mode, machines, N), with the ratio to N = 1 of the same store, mode and machines. */
const summarise = (records) => {
  const groups = new Map();
  for (const r of records) {
    const key = `${r.store}|${r.mode}|${r.machines}|${r.n}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const rows = [...groups.values()].map((list) => {
    const [{ store, mode, machines, n }] = list;
    return {
      store,
      mode,
      machines,
      n,
      rounds: list.length,
      timeToAllMs: round(median(list.map((r) => r.timeToAllMs)), 1),
      spreadMs: round(median(list.map((r) => r.spreadMs)), 1),
      refreshesPerRotation: round(list.reduce((sum, r) => sum + r.counters.refreshGrants, 0) / list.length, 2),
      reuseErrors: list.reduce((sum, r) => sum + r.counters.reuseErrors, 0),
      validPct: round(
        (100 * list.reduce((sum, r) => sum + r.validTokens, 0)) / list.reduce((sum, r) => sum + r.n, 0),
        1,
      ),
      failures: list.reduce((sum, r) => sum + r.failures, 0),
    };
  });
  for (const row of rows) {
    const one = rows.find(
      (r) =>
        r.store === row.store &&
        r.mode === row.mode &&
        r.n === 1 &&
        (r.machines === row.machines || row.store === "file"),
    );
    const alone = one ?? rows.find((r) => r.store === row.store && r.mode === row.mode && r.n === 1);
    row.ratioToN1 = alone === undefined ? undefined : round(row.timeToAllMs / alone.timeToAllMs, 2);
  }
  return rows.sort(
    (a, b) => a.store.localeCompare(b.store) || a.mode.localeCompare(b.mode) || a.machines - b.machines || a.n - b.n,
  );
};

export const runPostgresSuite = async ({ herdServer, steadyServer, bundle, config, log }) => {
  const postgres = await startPostgres({ settings: { max_connections: 300 } });
  const cleanups = [];
  try {
    log("  logging in (one store per number of machines, one file home) …");
    const byMachines = new Map();
    for (const machines of config.machines) {
      const store = await makeStore(postgres, herdServer, machines, `m${machines}`);
      cleanups.push(store.cleanup);
      byMachines.set(machines, store);
    }
    const fileHome = await loggedInHome(herdServer, "pg-beside-file");
    cleanups.push(fileHome.cleanup);
    const four = byMachines.get(4);
    const records = [];
    for (let rep = 0; rep < config.reps; rep++) {
      log(`  repetition ${rep + 1}/${config.reps}`);
      for (const n of config.sizes)
        records.push(await barrierRound({ server: herdServer, bundle, n, store: four, log }));
      for (const machines of config.machines) {
        if (machines === 4) continue;
        records.push(await barrierRound({ server: herdServer, bundle, n: 32, store: byMachines.get(machines), log }));
      }
      for (const n of [1, 32])
        records.push(await barrierRound({ server: herdServer, bundle, n, home: fileHome.home, log }));
    }
    for (const n of config.warmSizes) {
      records.push(...(await warmRounds({ server: herdServer, bundle, n, store: four, reps: config.warmReps, log })));
    }

    log("  baton token with a fresh token from the database vs node -e 0 …");
    const steady = await makeStore(postgres, steadyServer, 1, "steady");
    cleanups.push(steady.cleanup);
    const fast = await tokenPairs(steady, config.tokenRuns, 3);
    const full = await tokenPairs(steady, Math.max(5, Math.round(config.tokenRuns / 4)), 1, { BATON_DEBUG: "1" });
    const token = {
      ...fast,
      ratio: round(fast.batonTokenMs / fast.nodeMs, 2),
      fullCli: full,
      target: "≤ 2 × node -e 0",
      met: fast.batonTokenMs / fast.nodeMs <= 2,
    };
    log(
      `  node -e 0 ${Math.round(token.nodeMs)} ms, baton token (postgres) ${Math.round(token.batonTokenMs)} ms: ` +
        `${token.ratio}×; full CLI path ${Math.round(full.batonTokenMs)} ms`,
    );
    return { records, summary: summarise(records), token };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await postgres.stop();
  }
};

/** The targets, judged within the run. */
export const judgePostgres = (results) => {
  const rows = results.summary;
  const targets = [];
  const add = (benchmark, measured, target, met) =>
    targets.push({ benchmark, measured, target, met, verdict: met ? "MET" : "gap" });
  for (const mode of ["barrier", "warm"]) {
    const four = rows.filter((r) => r.store === "postgres" && r.mode === mode && r.machines === 4);
    const n32 = four.find((r) => r.n === 32);
    if (n32 !== undefined) {
      add(
        `postgres herd (${mode}, 4 machines): time-to-all N=32 / N=1`,
        `${n32.ratioToN1}× (${Math.round(n32.timeToAllMs)} ms)`,
        "≤ 1.3×",
        n32.ratioToN1 <= 1.3,
      );
    }
    if (four.length > 0) {
      add(
        `postgres herd (${mode}): refreshes per rotation`,
        four.map((r) => `N=${r.n}: ${r.refreshesPerRotation}`).join(", "),
        "1 at every N, 0 reuse",
        four.every((r) => r.refreshesPerRotation === 1 && r.reuseErrors === 0),
      );
    }
  }
  add(
    "baton token from postgres / node -e 0",
    `${results.token.ratio}× (${Math.round(results.token.batonTokenMs)} ms vs ${Math.round(results.token.nodeMs)} ms)`,
    "≤ 2×",
    results.token.met,
  );
  return targets;
};

/** The section's table: herds by store, mode, machines and N, and the token figures. */
export const reportPostgres = (results, log) => {
  log(
    "\nMANY MACHINES, ONE POSTGRESQL STORE (median of rounds; time-to-all from GO to the last token; ×N=1: against one " +
      "process alone on the same store and mode; the file store's barrier herd beside it)",
  );
  log(
    table(
      [
        "store",
        "mode",
        "machines",
        "N",
        "rounds",
        "time-to-all",
        "×N=1",
        "spread",
        "refresh/rot",
        "reuse err",
        "valid %",
        "failed",
      ],
      results.summary.map((r) => [
        r.store,
        r.mode,
        r.machines,
        r.n,
        r.rounds,
        fmtMs(r.timeToAllMs),
        fmtRatio(r.ratioToN1),
        fmtMs(r.spreadMs),
        r.refreshesPerRotation,
        r.reuseErrors,
        r.validPct,
        r.failures,
      ]),
    ),
  );
  const t = results.token;
  log(
    `baton token, fresh token from the database: ${fmtMs(t.batonTokenMs)} vs node -e 0 ${fmtMs(t.nodeMs)} ` +
      `(${fmtRatio(t.ratio)}); full CLI path ${fmtMs(t.fullCli.batonTokenMs)}`,
  );
};
