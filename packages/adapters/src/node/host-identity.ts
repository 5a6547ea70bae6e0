/**
 * HostIdentity for Node: this machine's host name, this process's pid, and a liveness probe. Liveness can only be
 * judged on this host: another host's process is "unknown" (callers fall back to time bounds). On this host
 * `process.kill(pid, 0)` sends no signal and reports: success → "alive", ESRCH → "dead", EPERM → "alive" (it exists
 * but belongs to another user). A pid that is not a positive integer is "unknown" (`kill(0)` would address a process
 * group). A zombie — dead, not yet reaped by its parent, which `kill` still finds — is "dead" where `/proc` tells
 * (Linux): in a container whose init never reaps, a killed process stays a zombie for good, and counting it alive
 * would keep its lock and claim "in flight" forever. Caveat: processes in another pid namespace with the same host
 * name (containers sharing a volume and a host name) would be misjudged — give such containers distinct host names.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { HostIdentity, type HostIdentityShape, type Liveness } from "@baton/core";
import { Effect, Layer } from "effect";

/** Whether `/proc` says `pid` is a zombie (state Z); `false` where there is no `/proc`. */
export const isZombie = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // The state follows the command name, which is in parentheses and may itself contain spaces or parentheses.
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return false;
  }
};

/** Liveness of `pid` on this host, by `kill(pid, 0)` (and `/proc` for zombies). */
export const probePid = (pid: number): Liveness => {
  if (!Number.isInteger(pid) || pid <= 0) return "unknown";
  try {
    process.kill(pid, 0);
    return isZombie(pid) ? "dead" : "alive";
  } catch (error) {
    const code = typeof error === "object" && error !== null && "code" in error ? error.code : undefined;
    if (code === "ESRCH") return "dead";
    if (code === "EPERM") return "alive";
    return "unknown";
  }
};

export const make = (host: string = hostname(), pid: number = process.pid): HostIdentityShape => ({
  host,
  pid,
  isAlive: (otherHost, otherPid) => Effect.sync(() => (otherHost === host ? probePid(otherPid) : "unknown")),
});

/** This process on this machine. */
export const layer: Layer.Layer<HostIdentity> = Layer.sync(HostIdentity, () => HostIdentity.of(make()));
