/**
 * Separate "machines" for tests: Linux network namespaces on one private /24, so processes talk over a real network
 * stack and the network between them can be cut mid-request.
 *
 * `createNetwork({ hosts: N })` makes N host namespaces plus one switch namespace holding a bridge; each host has `lo`
 * up and an `eth0` (one end of a veth pair, the other end a port of the bridge) with the address 10.231.0.(i+1)/24.
 * The hosts have no other route: nothing they send can leave the machine. Nothing is added to the machine's own
 * namespace either — reach the hosts only from inside one of them (`host.spawn`, `host.run`), or through a unix socket.
 *
 * `cut(host?)` sets the switch's port of that host (default: every port) down: the host keeps its address and routes,
 * and everything it sends, or that is sent to it, silently vanishes — an established TCP connection hangs and a new
 * one times out, with no RST and no "unreachable". `restore()` sets the ports up again; TCP retransmits and carries
 * on. (`tc netem loss 100%` would do the same, but the kernel here has no netem module; a port going down is
 * what a pulled cable or a dead switch does.)
 *
 * Names are `baton-<pid>-<n>-h<i>` and `baton-<pid>-<n>-sw`, unique per process and network. `dispose()` kills the
 * processes still inside the namespaces (all started by the test through them) and deletes the namespaces; a
 * process-exit hook does the same for networks not disposed; namespaces of earlier test processes that are gone are
 * swept by the next `createNetwork()`. Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2.
 */
import { type ChildProcess, execFile, execFileSync, type SpawnOptions, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { isRunning } from "./processes.ts";

const NAME_PREFIX = "baton-";
const SUBNET_PREFIX = "10.231.0";

export interface NetworkHost {
  /** The namespace's name. */
  readonly name: string;
  /** The host's address on the network, e.g. 10.231.0.1. */
  readonly address: string;
  /** The argv prefix that runs a command inside the host: `ip netns exec NAME`. */
  readonly prefix: readonly string[];
  /** Starts `command` inside the host. */
  spawn(command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Runs `command` inside the host and resolves with its stdout (rejects with its stderr on failure). */
  run(command: string, args: readonly string[]): Promise<string>;
}

export interface TestNetwork {
  readonly hosts: readonly NetworkHost[];
  /** Every namespace of the network: the switch's, then the hosts'. */
  readonly namespaces: readonly string[];
  /** The hosts' subnet, e.g. 10.231.0.0/24. */
  readonly subnet: string;
  /** Cuts `host` off the network (default: every host off every other). */
  cut(host?: NetworkHost): Promise<void>;
  /** Reconnects `host` (default: every host). */
  restore(host?: NetworkHost): Promise<void>;
  /** Kills the processes left inside the namespaces and deletes them. Safe to call more than once. */
  dispose(): Promise<void>;
}

export interface NetworkOptions {
  /** How many host namespaces. Default 2, at most 200. */
  readonly hosts?: number;
}

/** Why network namespaces cannot be made here, or undefined when they can. */
export function netnsUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)";
  if (!["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].some((path) => existsSync(path))) {
    return "iproute2 is missing: run scripts/system-deps.sh";
  }
  return undefined;
}

function ip(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("ip", args, { encoding: "utf8", timeout: 30_000 }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout);
      else reject(new Error(`ip ${args.join(" ")} failed: ${stderr.trim() || error.message}`));
    });
  });
}

function namespacePids(name: string): number[] {
  try {
    return execFileSync("ip", ["netns", "pids", name], { encoding: "utf8" })
      .split(/\s+/)
      .filter((text) => /^\d+$/.test(text))
      .map(Number);
  } catch {
    return [];
  }
}

/** Kills what runs inside the namespaces (processes the tests started there) and deletes them. Synchronous, for exit. */
function removeNamespacesSync(names: readonly string[]): void {
  for (const name of names) {
    for (const pid of namespacePids(name)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    try {
      execFileSync("ip", ["netns", "delete", name], { stdio: "ignore" });
    } catch {
      // already deleted
    }
  }
}

function listNamespaces(): string[] {
  try {
    return execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
      .split("\n")
      .map((line) => line.split(" ")[0] ?? "")
      .filter((name) => name !== "");
  } catch {
    return [];
  }
}

/** Deletes the namespaces of earlier test processes that are gone (never those of a running process). */
export function sweepStaleNamespaces(): void {
  const stale = listNamespaces().filter((name) => {
    const owner = /^baton-(\d+)-\d+-(h\d+|sw)$/.exec(name)?.[1];
    return owner !== undefined && Number(owner) !== process.pid && !isRunning(Number(owner));
  });
  removeNamespacesSync(stale);
}

const live = new Map<string, readonly string[]>();
let exitHookInstalled = false;
let networksMade = 0;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const names of live.values()) removeNamespacesSync(names);
  });
}

function host(name: string, address: string): NetworkHost {
  const prefix = ["ip", "netns", "exec", name];
  return {
    name,
    address,
    prefix,
    spawn: (command, args, options = {}) => spawn("ip", ["netns", "exec", name, command, ...args], options),
    run: (command, args) => ip(["netns", "exec", name, command, ...args]),
  };
}

export async function createNetwork(options: NetworkOptions = {}): Promise<TestNetwork> {
  const unavailable = netnsUnavailableReason();
  if (unavailable !== undefined) throw new Error(`cannot create network namespaces: ${unavailable}`);
  const count = options.hosts ?? 2;
  if (!Number.isInteger(count) || count < 1 || count > 200) throw new RangeError(`hosts must be 1-200, got ${count}`);
  sweepStaleNamespaces();
  installExitHook();

  networksMade += 1;
  const base = `${NAME_PREFIX}${process.pid}-${networksMade}`;
  const switchName = `${base}-sw`;
  const hosts = Array.from({ length: count }, (_, index) => host(`${base}-h${index}`, `${SUBNET_PREFIX}.${index + 1}`));
  const names = [switchName, ...hosts.map((each) => each.name)];
  live.set(base, names);
  const port = (index: number): string => `port${index}`;

  try {
    await ip(["netns", "add", switchName]);
    await ip(["-n", switchName, "link", "add", "switch", "type", "bridge"]);
    await ip(["-n", switchName, "link", "set", "switch", "up"]);
    for (const [index, each] of hosts.entries()) {
      await ip(["netns", "add", each.name]);
      await ip([
        "link",
        "add",
        "eth0",
        "netns",
        each.name,
        "type",
        "veth",
        "peer",
        "name",
        port(index),
        "netns",
        switchName,
      ]);
      await ip(["-n", switchName, "link", "set", port(index), "master", "switch", "up"]);
      await ip(["-n", each.name, "link", "set", "lo", "up"]);
      await ip(["-n", each.name, "address", "add", `${each.address}/24`, "dev", "eth0"]);
      await ip(["-n", each.name, "link", "set", "eth0", "up"]);
    }
  } catch (error) {
    removeNamespacesSync(names);
    live.delete(base);
    throw error;
  }

  const setPorts = async (target: NetworkHost | undefined, state: "up" | "down"): Promise<void> => {
    const indexes = target === undefined ? hosts.map((_, index) => index) : [hosts.indexOf(target)];
    if (indexes.includes(-1)) throw new Error(`${target?.name} is not a host of this network`);
    for (const index of indexes) await ip(["-n", switchName, "link", "set", port(index), state]);
  };
  let disposed = false;
  return {
    hosts,
    namespaces: names,
    subnet: `${SUBNET_PREFIX}.0/24`,
    cut: (target) => setPorts(target, "down"),
    restore: (target) => setPorts(target, "up"),
    dispose: async () => {
      if (disposed) return;
      disposed = true;
      removeNamespacesSync(names);
      live.delete(base);
    },
  };
}
