/**
 * The benchmark run's verdicts and printed tables: each SPEC §7 target judged as a ratio of figures measured in the
 * same run (`judge`), and the HERD / SINGLE-PROCESS / TARGETS tables (`report`).
 */
import { fmtMs, fmtRate, fmtRatio, table } from "./common.mjs";

const verdict = (met, gap) => (met ? "MET" : `gap: ${gap}`);

// ------------------------------------------------------------------------------------------------ targets

export const judge = (results, modes) => {
  const targets = [];
  const add = (benchmark, measured, target, met, gap) =>
    targets.push({ benchmark, measured, target, met, verdict: verdict(met, gap) });
  const rows = results.herd?.summary ?? [];
  for (const mode of modes) {
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

export const report = (results, log) => {
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
    if (s.withoutCheckpoints !== undefined && s.checkpoints > 0) {
      other.push([
        "  same home, checkpoints aside",
        fmtMs(s.withoutCheckpoints.statusMs),
        `${fmtMs(s.withoutCheckpoints.beyondNodeMs)} beyond start-up; ${s.withoutCheckpoints.runs} runs (full folds)`,
      ]);
    }
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
