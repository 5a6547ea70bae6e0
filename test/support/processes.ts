/**
 * Small process facts for the test helpers: whether a pid is a running process, and waiting for a condition.
 *
 * A process that exited but was not reaped (a zombie) counts as not running. That matters here: daemons such as the
 * PostgreSQL postmaster are re-parented to PID 1 when they exit, and PID 1 of some containers never reaps, so
 * `kill(pid, 0)` would keep saying "alive" for a process that is long gone.
 */
import { readFileSync } from "node:fs";

/** True while `pid` names a process that has not exited (zombies excluded). Linux only (reads /proc). */
export function isRunning(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false;
  }
  // "PID (COMMAND) STATE ...": the command may contain spaces and parentheses, the state follows the last ")".
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

/** Polls `check` every 25 ms until it is true or `timeoutMs` passed; returns its last answer. */
export async function eventually(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return check();
}
