/**
 * The warm barrier herd (children/baton-warm.mjs): the same N embedded hosts through several rotations, so that the
 * reported rotations run code the processes have run before — what a long-running host sees from its third rotation
 * on. The cold first rotation is the barrier mode of herd-suite.mjs.
 */
import { join } from "node:path";
import { REF, readSecret, sleepUntilExpired, tokenJudge } from "./account.mjs";
import { BENCH_DIR, median, round } from "./common.mjs";
import { warmHerd } from "./herd.mjs";
import { counterDelta, eventCounts, readEvents } from "./herd-records.mjs";

const WARM_CHILD = join(BENCH_DIR, "children", "baton-warm.mjs");

/**
 * baton's warm barrier herd for one N: the same N processes (children/baton-warm.mjs) go through
 * {@link WARMUP_ROUNDS} + `reps` rotations; the warm-up rotations are not reported (the first meets cold code like the
 * barrier mode; in the second, most processes run the role — holder or follower — they did not run yet), the others
 * are records of mode "warm", shaped like {@link runRound}'s.
 */
const WARMUP_ROUNDS = 2;

export const runWarm = async ({ server, bundle, n, home, reps, log, childFlags = [], env = {} }) => {
  const records = [];
  let judge;
  let before;
  let eventsBefore;
  await warmHerd(n, () => [...childFlags, WARM_CHILD, bundle, home, REF], {
    env: { BATON_HOME: home, BATON_STORAGE: "file", ...env },
    rounds: WARMUP_ROUNDS + reps,
    onToken: (token, at) => judge?.arrived(token, at),
    beforeRound: async () => {
      await sleepUntilExpired((await readSecret(home)).expiresAt);
      judge = tokenJudge(server);
      before = server.counters();
      eventsBefore = (await readEvents(home)).length;
    },
    afterRound: async (r, result) => {
      const counters = counterDelta(before, server.counters());
      const appended = (await readEvents(home)).slice(eventsBefore);
      const claimed = appended.find((e) => e.type === "refresh.claimed");
      const stored = appended.find((e) => e.type === "credentials.stored" && e.source === "refresh");
      const verdicts = await judge.verdicts();
      const valid = result.tokens.filter((token) => verdicts.get(token) === true).length;
      if (r < WARMUP_ROUNDS) return;
      if (result.fsCounts.length > 0) {
        const sum = {};
        for (const c of result.fsCounts) for (const [k, v] of Object.entries(c)) sum[k] = (sum[k] ?? 0) + v;
        log(`  fs calls and watch notifications, all ${result.fsCounts.length} processes: ${JSON.stringify(sum)}`);
      }
      const record = {
        rep: r - WARMUP_ROUNDS,
        algorithm: "baton",
        mode: "warm",
        n,
        afterAllStartedMs: round(result.afterAllStartedMs, 1),
        fromFirstSpawnMs: round(result.fromFirstSpawnMs, 1),
        spreadMs: round(result.spreadMs, 1),
        counters,
        events: eventCounts(appended),
        phases:
          claimed === undefined || stored === undefined
            ? undefined
            : {
                claimMs: round(claimed.at - result.startEpochMs, 1),
                storedMs: round(stored.at - result.startEpochMs, 1),
              },
        cpuMsPerProcess: round(median(result.cpuMs), 1),
        cpuMsAll: round(
          result.cpuMs.reduce((a, b) => a + b, 0),
          1,
        ),
        distinctTokens: new Set(result.tokens).size,
        validTokens: valid,
        validPct: round((100 * valid) / n, 1),
        gaveUp: 0,
        tornReads: 0,
        failures: result.failures.length,
        failureSamples: result.failures.slice(0, 3),
      };
      records.push(record);
      log(
        `  baton  warm    N=${String(n).padStart(2)}: last token ${Math.round(result.afterAllStartedMs)} ms after GO ` +
          `(spread ${Math.round(result.spreadMs)} ms); server: ${counters.refreshGrants} refresh, ${counters.reuseErrors} ` +
          `reuse errors; valid ${valid}/${n}` +
          (record.phases === undefined
            ? ""
            : `; claim at ${Math.round(record.phases.claimMs)} ms, g+1 stored at ${Math.round(record.phases.storedMs)} ms`) +
          `; CPU ${record.cpuMsPerProcess} ms per process (median), ${Math.round(record.cpuMsAll)} ms in all`,
      );
    },
  });
  return records;
};
