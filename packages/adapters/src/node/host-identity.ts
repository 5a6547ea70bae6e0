/**
 * HostIdentity for Node: this machine's host name, this process's pid, and a liveness probe. Liveness can only be
 * judged on this host: another host's process is "unknown" (callers fall back to time bounds). On this host
 * `process.kill(pid, 0)` sends no signal and reports: success → "alive", ESRCH → "dead", EPERM → "alive" (it exists
 * but belongs to another user). A pid that is not a positive integer is "unknown" (`kill(0)` would address a process
 * group). Caveat: a zombie (dead but not yet reaped by its parent) still counts as alive, and processes in another
 * pid namespace with the same host name (containers sharing a volume and a host name) would be misjudged — give such
 * containers distinct host names.
 */
import { hostname } from "node:os";
import { HostIdentity, type HostIdentityShape, type Liveness } from "@baton/core";
import { Effect, Layer } from "effect";

/** Liveness of `pid` on this host, by `kill(pid, 0)`. */
export const probePid = (pid: number): Liveness => {
  if (!Number.isInteger(pid) || pid <= 0) return "unknown";
  try {
    process.kill(pid, 0);
    return "alive";
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
