/**
 * One embedded baton host of the WARM barrier herd: like baton-barrier.mjs (the facade on BATON_HOME, the account
 * prefetched, background refresh off, READY once loaded), but it stays up and answers every `GO` line on stdin with
 * one `accessToken(ref)`: `TOKEN <token>` then `CPU <json>` (this process's CPU time from that GO to its token). The
 * first GO finds cold code (V8 compiles each function on its first call); later GOs measure the same protocol in a
 * process that has run it before — what a long-running host sees from its second rotation on. Exits when stdin ends,
 * or after 60 s without a GO.
 * Usage: node baton-warm.mjs BUNDLE HOME REF
 * With BENCH_PROFILE_DIR set, each GO from the third on is profiled (100 µs sampling) from GO until the token is
 * printed, written there as <pid>-<round>.cpuprofile; with BENCH_COUNT_FS=1, the file-system calls and fs.watch
 * notifications between those GOs and their tokens are counted (instrument.mjs) and printed as `FSCOUNTS <json>`.
 */
import { join } from "node:path";
import { cpuProfiler, fsCallCounter } from "./instrument.mjs";

const [bundle, home, ref] = process.argv.slice(2);
const PROFILE_FROM_ROUND = 3;
const profileDir = process.env.BENCH_PROFILE_DIR;
const profiler = profileDir === undefined ? undefined : await cpuProfiler();
const fsCalls = process.env.BENCH_COUNT_FS === "1" ? fsCallCounter() : undefined;
const IDLE_LIMIT_MS = 60_000;
let idle = setTimeout(() => process.exit(3), IDLE_LIMIT_MS);

const { createBaton } = await import(bundle);
const baton = await createBaton({ home, prefetch: [ref], backgroundRefresh: false });
process.stdout.write("READY\n");

let pending = "";
let queue = Promise.resolve();
let round = 0;
const answer = async () => {
  round += 1;
  const observed = round >= PROFILE_FROM_ROUND;
  if (observed) {
    await profiler?.start();
    fsCalls?.begin();
  }
  const cpuAtGo = process.cpuUsage();
  try {
    const token = await baton.accessToken(ref);
    const cpu = process.cpuUsage(cpuAtGo);
    const counts = observed ? fsCalls?.end() : undefined;
    process.stdout.write(
      `TOKEN ${token}\nCPU ${JSON.stringify({ userMs: cpu.user / 1000, systemMs: cpu.system / 1000 })}\n`,
    );
    if (counts !== undefined) process.stdout.write(`FSCOUNTS ${JSON.stringify(counts)}\n`);
    if (observed) await profiler?.stopInto(join(profileDir, `${process.pid}-${round}.cpuprofile`));
  } catch (error) {
    process.stderr.write(`accessToken failed: ${error?.message ?? error}\n`);
    process.stdout.write("TOKEN \n");
    process.exitCode = 1;
  }
};
process.stdin.on("data", (chunk) => {
  clearTimeout(idle);
  idle = setTimeout(() => process.exit(3), IDLE_LIMIT_MS);
  pending += chunk.toString("utf8");
  for (let newline = pending.indexOf("\n"); newline >= 0; newline = pending.indexOf("\n")) {
    pending = pending.slice(newline + 1);
    queue = queue.then(answer);
  }
});
process.stdin.on("end", () => {
  clearTimeout(idle);
  queue.then(() => baton.close());
});
