/**
 * One embedded baton host of the barrier herd: loads baton (the bench bundle), creates the facade on BATON_HOME with
 * the account prefetched (its cached token is expired by then) and background refresh off, prints READY, waits for a
 * line on stdin, then asks `accessToken(ref)` once and prints `TOKEN <token>`. Exits by itself after 120 s without a
 * signal. After the token it prints `CPU <json>`: this process's CPU time (user + system, ms) from GO to the token.
 * Usage: node baton-barrier.mjs BUNDLE HOME REF
 * With BENCH_PROFILE_DIR set, a CPU profile (100 µs sampling) runs from GO until the token is printed and is written
 * there as <pid>.cpuprofile: the herd's wake-up path only, without the start-up.
 * With BENCH_COUNT_FS=1, calls of node:fs/promises functions, node:fs callback and synchronous calls (proper-lockfile
 * uses the callback API, the file adapters' small reads the synchronous one) and fs.watch notifications made between
 * GO and the token are counted and printed as `FSCOUNTS <json>` after the token.
 */
import { join } from "node:path";
import { cpuProfiler, fsCallCounter } from "./instrument.mjs";

const [bundle, home, ref] = process.argv.slice(2);
const giveUp = setTimeout(() => {
  process.stderr.write("no GO within 120 s\n");
  process.exit(3);
}, 120_000);

const profileDir = process.env.BENCH_PROFILE_DIR;
const profiler = profileDir === undefined ? undefined : await cpuProfiler();
const fsCalls = process.env.BENCH_COUNT_FS === "1" ? fsCallCounter() : undefined;
const { createBaton } = await import(bundle);
const baton = await createBaton({ home, prefetch: [ref], backgroundRefresh: false });
process.stdout.write("READY\n");
let released = false;
// The parent went away before GO (its end of the pipe closed): stop at once instead of waiting for the time limit.
process.stdin.once("end", () => {
  if (!released) process.exit(3);
});
process.stdin.once("data", async () => {
  released = true;
  clearTimeout(giveUp);
  process.stdin.pause();
  try {
    await profiler?.start();
    fsCalls?.begin();
    const cpuAtGo = process.cpuUsage();
    const token = await baton.accessToken(ref);
    const cpu = process.cpuUsage(cpuAtGo);
    const counts = fsCalls?.end();
    process.stdout.write(
      `TOKEN ${token}\nCPU ${JSON.stringify({ userMs: cpu.user / 1000, systemMs: cpu.system / 1000 })}\n`,
    );
    if (counts !== undefined) process.stdout.write(`FSCOUNTS ${JSON.stringify(counts)}\n`);
    await profiler?.stopInto(join(profileDir, `${process.pid}.cpuprofile`));
  } catch (error) {
    process.stderr.write(`accessToken failed: ${error?.message ?? error}\n`);
    process.exitCode = 1;
  } finally {
    await baton.close();
  }
});
