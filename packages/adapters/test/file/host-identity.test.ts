/**
 * Node's HostIdentity: this host and pid, and liveness by `kill(pid, 0)` — alive for this process, dead for a child
 * that has exited and been reaped, unknown for another host or a pid that is not a positive integer.
 */
import { spawn } from "node:child_process";
import { hostname } from "node:os";
import { HostIdentity } from "@baton/core";
import { Effect } from "effect";
import { describe, expect, it } from "vitest";
import * as NodeHostIdentity from "../../src/node/host-identity.ts";

const run = <A>(effect: Effect.Effect<A, never, HostIdentity>) =>
  Effect.runPromise(Effect.provide(effect, NodeHostIdentity.layer));

describe("node host identity", () => {
  it("host - should be this machine's host name and this process's pid", async () => {
    const identity = await run(HostIdentity.use(Effect.succeed));
    expect(identity.host).toBe(hostname());
    expect(identity.pid).toBe(process.pid);
  });

  it("isAlive - should tell alive, dead and unknown processes apart", async () => {
    const child = spawn(process.execPath, ["-e", "0"]);
    const exited = new Promise((resolve) => child.on("exit", resolve));
    const pid = child.pid!;
    await exited;
    const result = await run(
      HostIdentity.use((host) =>
        Effect.all({
          self: host.isAlive(hostname(), process.pid),
          parent: host.isAlive(hostname(), process.ppid),
          dead: host.isAlive(hostname(), pid),
          otherHost: host.isAlive(`${hostname()}-elsewhere`, process.pid),
          zero: host.isAlive(hostname(), 0),
          negative: host.isAlive(hostname(), -1),
        }),
      ),
    );
    expect(result).toEqual({
      self: "alive",
      parent: "alive",
      dead: "dead",
      otherHost: "unknown",
      zero: "unknown",
      negative: "unknown",
    });
  });
});
