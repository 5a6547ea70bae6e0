#!/usr/bin/env node
/**
 * What the diagnostic notes cost the herd (#19: within 5 % of the same code without them). Not a test: it measures
 * and reports. One session, one authorization server (rotation + reuse detection, 100 ms latency, 6 s tokens), two
 * builds of the same sources, rounds interleaved so that both meet the same machine:
 *
 * - "notes": baton as shipped — each refresh flight of each process appends one unsynced line to notes.log;
 * - "no notes": the same sources with the file event store's `note` replaced by a no-op (an esbuild plugin of this
 *   script; nothing in the product changes).
 *
 * Each build gets a CLI bundle (the spawned herd: N `baton token` processes) and a bench bundle (the barrier and warm
 * herds: N embedded hosts released together), built like the real ones. Reported per mode and N: the median time until
 * the last process held a token, the median CPU per process where the children report it, and notes / no notes.
 *
 *   node test/bench/notes-cost.mjs [--sizes=1,8,32,64] [--modes=spawned,barrier,warm] [--reps=5]
 *
 * Needs the pinned Node (scripts/toolchain.mjs) and the workspace installed; writes test/bench/results/<stamp>-notes.json.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAuthorizationServer } from "@baton/devserver";
import { build } from "esbuild";
import { bundleOptions } from "../../packages/cli/bundle-options.mjs";
import { accountDir, loggedInHome, REF, readSecret, sleepUntilExpired } from "./lib/account.mjs";
import { buildBundle } from "./lib/bundle.mjs";
import { BENCH_DIR, killAllChildren, median, ROOT, round, table } from "./lib/common.mjs";
import { barrierHerd, spawnedHerd } from "./lib/herd.mjs";
import { counterDelta } from "./lib/herd-records.mjs";
import { runWarm } from "./lib/herd-warm.mjs";

const argv = process.argv.slice(2);
const list = (name, fallback) =>
  argv
    .find((a) => a.startsWith(`--${name}=`))
    ?.slice(name.length + 3)
    .split(",") ?? fallback;
const sizes = list("sizes", ["1", "8", "32", "64"]).map(Number);
const modes = list("modes", ["spawned", "barrier", "warm"]);
const reps = Number(list("reps", ["5"])[0]);
const log = (line) => process.stdout.write(`${line}\n`);

// ------------------------------------------------------------------------------------------------ the two builds

const EVENT_STORE = /packages[\\/]adapters[\\/]src[\\/]file[\\/]event-store\.ts$/;
const KEEPS_NOTES = "return { append, read, fold, accounts, note, notes };";
const DROPS_NOTES = "return { append, read, fold, accounts, note: () => Effect.void, notes };";

/** The file event store with `note` as a no-op; fails loudly if the store's code no longer reads as expected. */
const withoutNotes = {
  name: "without-notes",
  setup(esbuild) {
    esbuild.onLoad({ filter: EVENT_STORE }, async (args) => {
      const source = await readFile(args.path, "utf8");
      if (source.split(KEEPS_NOTES).length !== 2) throw new Error(`${args.path}: "${KEEPS_NOTES}" not found once`);
      return { contents: source.replace(KEEPS_NOTES, DROPS_NOTES), loader: "ts" };
    });
  },
};

const buildVariant = async (name, plugins) => {
  const dir = await mkdtemp(join(tmpdir(), `baton-notes-cost-${name.replace(" ", "-")}-`));
  await build({
    entryPoints: { baton: join(ROOT, "packages", "cli", "src", "bin.ts") },
    outdir: dir,
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunks/[name]-[hash]",
    splitting: true,
    ...bundleOptions,
    plugins,
  });
  const bundle = await buildBundle({ plugins });
  return {
    name,
    cli: join(dir, "baton.mjs"),
    bundle: bundle.path,
    cleanup: async () => {
      await rm(dir, { recursive: true, force: true });
      await bundle.cleanup();
    },
  };
};

// ------------------------------------------------------------------------------------------------ one round

const BARRIER_CHILD = join(BENCH_DIR, "children", "baton-barrier.mjs");

const oneShot = async ({ server, variant, mode, n, home }) => {
  const argsFor =
    mode === "spawned" ? () => [variant.cli, "token", REF] : () => [BARRIER_CHILD, variant.bundle, home, REF];
  const env = { BATON_HOME: home, BATON_STORAGE: "file" };
  const expiry = (await readSecret(home)).expiresAt;
  let before;
  let result;
  if (mode === "spawned") {
    await sleepUntilExpired(expiry);
    before = server.counters();
    result = await spawnedHerd(n, argsFor, { env, timeoutMs: 90_000 });
  } else {
    result = await barrierHerd(n, argsFor, {
      env,
      timeoutMs: 150_000,
      readyTimeoutMs: 90_000,
      beforeGo: async () => {
        await sleepUntilExpired(expiry);
        before = server.counters();
      },
    });
  }
  const counters = counterDelta(before, server.counters());
  const record = {
    variant: variant.name,
    mode,
    n,
    afterAllStartedMs: round(result.afterAllStartedMs, 1),
    cpuMsPerProcess: result.cpuMs.length === 0 ? undefined : round(median(result.cpuMs), 1),
    refreshGrants: counters.refreshGrants,
    reuseErrors: counters.reuseErrors,
    failures: result.failures.length,
  };
  log(
    `  ${variant.name.padEnd(8)} ${mode.padEnd(7)} N=${String(n).padStart(2)}: ${Math.round(result.afterAllStartedMs)} ms` +
      `${record.cpuMsPerProcess === undefined ? "" : `, CPU ${record.cpuMsPerProcess} ms per process`}; ` +
      `${counters.refreshGrants} refresh, ${counters.reuseErrors} reuse errors${record.failures > 0 ? `, ${record.failures} FAILED` : ""}`,
  );
  return record;
};

// ------------------------------------------------------------------------------------------------ one note

/**
 * The cost of one note by itself, in this process: the shipped file event store's `note` (secure directory checks,
 * open O_APPEND, one write, close) on a logged-in home, `count` times, wall and CPU time per call. A herd of N writes
 * N notes per rotation, one per process, each on its own process's critical path once.
 */
const noteCost = async (bundle, home, count = 2_000) => {
  const { Effect, FileEventStore } = await import(bundle);
  const store = FileEventStore.make({ home }, { host: "bench-host", pid: 1 });
  const account = { provider: "demo", account: "you" };
  const note = (i) => ({
    v: 1,
    kind: "flight",
    host: "bench-host",
    pid: 100_000 + i,
    startedAt: 1_800_000_000_000 + i,
    endedAt: 1_800_000_000_150 + i,
    outcome: "adopted",
    generation: 2,
    waitedFrom: 1_800_000_000_003 + i,
    waitedUntil: 1_800_000_000_140 + i,
  });
  for (let i = 0; i < 100; i++) await Effect.runPromise(store.note(account, note(i)));
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < count; i++) await Effect.runPromise(store.note(account, note(i)));
  const wallUs = ((performance.now() - start) * 1000) / count;
  const used = process.cpuUsage(cpu);
  return { wallUs: round(wallUs, 1), cpuUs: round((used.user + used.system) / count, 1) };
};

// ------------------------------------------------------------------------------------------------ the session

const main = async () => {
  const cleanups = [];
  const records = [];
  try {
    log(`notes cost: sizes ${sizes.join(",")}, modes ${modes.join(",")}, ${reps} repetitions, interleaved`);
    const variants = [await buildVariant("notes", []), await buildVariant("no notes", [withoutNotes])];
    for (const variant of variants) cleanups.push(variant.cleanup);
    const server = await startAuthorizationServer({ accessTokenTtlSeconds: 6, latencyMs: 100 });
    cleanups.push(() => server.stop());
    const homes = new Map();
    for (const variant of variants) {
      for (const mode of modes) {
        const prepared = await loggedInHome(server, `notes-cost-${variant.name.replace(" ", "-")}-${mode}`);
        cleanups.push(prepared.cleanup);
        homes.set(`${variant.name}/${mode}`, prepared.home);
      }
    }
    const single = await loggedInHome(server, "notes-cost-single");
    cleanups.push(single.cleanup);
    const perNote = await noteCost(variants[0].bundle, single.home);
    log(`one note: ${perNote.wallUs} µs wall, ${perNote.cpuUs} µs CPU per call`);
    const oneShotModes = modes.filter((m) => m !== "warm");
    for (let rep = 0; rep < reps; rep++) {
      log(`repetition ${rep + 1}/${reps}`);
      for (const n of sizes) {
        for (const mode of oneShotModes) {
          // Alternate which build goes first, so that neither always meets the machine right after the other.
          for (const variant of rep % 2 === 0 ? variants : [...variants].reverse()) {
            records.push(await oneShot({ server, variant, mode, n, home: homes.get(`${variant.name}/${mode}`) }));
          }
        }
      }
    }
    if (modes.includes("warm")) {
      for (const n of sizes) {
        for (const variant of n % 2 === 0 ? variants : [...variants].reverse()) {
          const warm = await runWarm({
            server,
            bundle: variant.bundle,
            n,
            home: homes.get(`${variant.name}/warm`),
            reps,
            log: (line) => log(`${line} [${variant.name}]`),
          });
          records.push(...warm.map((r) => ({ variant: variant.name, mode: "warm", n, ...pick(r) })));
        }
      }
    }
    // The two builds differ as intended: flight notes where they are kept, none where they are not.
    for (const [key, home] of homes) {
      const notes = await readFile(join(accountDir(home), "notes.log"), "utf8").catch(() => "");
      log(`  ${key}: ${notes.split("\n").filter((line) => line !== "").length} lines in notes.log`);
    }
    report(records);
    log(
      `\none note: ${perNote.wallUs} µs wall, ${perNote.cpuUs} µs CPU; a herd of N adds N notes per rotation, ` +
        `one on each process's own path (64 notes: ${round((64 * perNote.cpuUs) / 1000, 1)} ms of CPU in all)`,
    );
    const resultsDir = join(BENCH_DIR, "results");
    await mkdir(resultsDir, { recursive: true });
    const file = join(resultsDir, `${new Date().toISOString().replace(/[:.]/g, "-")}-notes.json`);
    await writeFile(file, `${JSON.stringify({ sizes, modes, reps, perNote, records }, null, 2)}\n`);
    log(`\nresults: ${file}`);
  } finally {
    killAllChildren();
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
};

const pick = (r) => ({
  afterAllStartedMs: r.afterAllStartedMs,
  cpuMsPerProcess: r.cpuMsPerProcess,
  refreshGrants: r.counters.refreshGrants,
  reuseErrors: r.counters.reuseErrors,
  failures: r.failures,
});

const report = (records) => {
  const rows = [];
  for (const mode of modes) {
    for (const n of sizes) {
      const of = (variant) => records.filter((r) => r.variant === variant && r.mode === mode && r.n === n);
      const [withNotes, without] = [of("notes"), of("no notes")];
      if (withNotes.length === 0 || without.length === 0) continue;
      const time = (rs) => median(rs.map((r) => r.afterAllStartedMs));
      const cpu = (rs) => median(rs.map((r) => r.cpuMsPerProcess).filter((c) => c !== undefined));
      const ratio = time(withNotes) / time(without);
      rows.push([
        mode,
        n,
        `${withNotes.length}+${without.length}`,
        round(time(withNotes)),
        round(time(without)),
        `${ratio.toFixed(3)}×`,
        Number.isFinite(cpu(withNotes)) ? `${round(cpu(withNotes), 1)} / ${round(cpu(without), 1)}` : "-",
        withNotes.concat(without).every((r) => r.refreshGrants === 1 && r.reuseErrors === 0 && r.failures === 0)
          ? "yes"
          : "NO",
        ratio <= 1.05 ? "within 5 %" : `${((ratio - 1) * 100).toFixed(1)} % slower`,
      ]);
    }
  }
  log(
    `\n${table(
      ["mode", "N", "rounds", "notes ms", "no notes ms", "ratio", "CPU ms/process", "1 refresh, 0 reuse", "verdict"],
      rows,
    )}`,
  );
};

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    killAllChildren();
    process.exit(130);
  });
}

try {
  await main();
} catch (error) {
  process.stderr.write(`notes cost failed: ${error?.stack ?? error}\n`);
  process.exitCode = 1;
}
