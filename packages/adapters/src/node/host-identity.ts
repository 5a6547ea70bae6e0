/**
 * HostIdentity for Node: this machine's host name, this process's pid, and a liveness probe. Liveness can only be
 * judged on this host: another host's process is "unknown" (callers fall back to time bounds). On this host
 * `process.kill(pid, 0)` sends no signal and reports: success → "alive", ESRCH → "dead", EPERM → "alive" (it exists
 * but belongs to another user). A pid that is not a positive integer is "unknown" (`kill(0)` would address a process
 * group). A zombie — dead, not yet reaped by its parent, which `kill` still finds — is "dead" where `/proc` tells
 * (Linux): in a container whose init never reaps, a killed process stays a zombie for good, and counting it alive
 * would keep its lock and claim "in flight" forever. Caveat: processes in another pid namespace with the same host
 * name (containers sharing a volume and a host name) would be misjudged — give such containers distinct host names.
 *
 * The machine's name in events, claims and sessions: BATON_MACHINE_ID when set (e.g. to tell apart containers that
 * share a host name, or simulated machines in tests), else the host name — and, for a store shared by many machines
 * (PostgreSQL), the host name with the first 8 hex digits of the machine id (`/etc/machine-id`, else the boot id),
 * e.g. `build-3/3f2a9c1e`, so that two machines that happen to share a host name are still told apart in `replay`.
 * On a shared store liveness is judged by the database, never by comparing these names.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { HostIdentity, type HostIdentityShape, InvalidInput, type Liveness } from "@baton/core";
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

/** This process on the machine named `host`. */
export const layerNamed = (host: string): Layer.Layer<HostIdentity> =>
  Layer.sync(HostIdentity, () => HostIdentity.of(make(host)));

const MACHINE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/;

/** BATON_MACHINE_ID, when set: the machine's name (1–64 letters, digits, `.`, `_`, `:`, `/`, `-`). */
export const machineNameFromEnvironment = (env: NodeJS.ProcessEnv): string | undefined | InvalidInput => {
  const value = env.BATON_MACHINE_ID;
  if (value === undefined || value === "") return undefined;
  return MACHINE_NAME.test(value)
    ? value
    : new InvalidInput({
        reason: "argument",
        message:
          "BATON_MACHINE_ID must be 1-64 letters, digits, '.', '_', ':', '/' or '-', starting with a letter or digit",
      });
};

/** The first 8 hex digits of this machine's id (`/etc/machine-id`, `/var/lib/dbus/machine-id`, else the boot id). */
export const machineId = (): string | undefined => {
  for (const path of ["/etc/machine-id", "/var/lib/dbus/machine-id", "/proc/sys/kernel/random/boot_id"]) {
    try {
      const id = readFileSync(path, "latin1").trim().replaceAll("-", "").toLowerCase();
      if (/^[0-9a-f]{8,}$/.test(id)) return id.slice(0, 8);
    } catch {
      // not on this system
    }
  }
  return undefined;
};

/** This machine's name on a store shared by many machines: the host name with its machine id (see the module comment). */
export const sharedMachineName = (): string => {
  const id = machineId();
  return id === undefined ? hostname() : `${hostname()}/${id}`;
};
