/**
 * The ClaimStore contract against the file claim store, each test in a fresh temporary BATON_HOME. A claim "of
 * another process on this host" is made for a real child process (alive while it sleeps, dead once killed and
 * reaped); a claim "on another machine" names another host, which this store can only judge by time.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { ClaimStore } from "@baton/core";
import { Effect, Layer } from "effect";
import { FileClaimStore, NodeHostIdentity } from "../../src/file/index.ts";
import { claimStoreContract } from "./claim-store-contract.ts";

claimStoreContract(
  "file claim store",
  async () => {
    const home = await mkdtemp(join(tmpdir(), "baton-contract-"));
    const children: Array<ChildProcess> = [];
    const layer = () => FileClaimStore.layer({ home }).pipe(Layer.provide(NodeHostIdentity.layer));
    const store = await Effect.runPromise(Effect.provide(ClaimStore.use(Effect.succeed), layer()));
    return {
      host: hostname(),
      pid: process.pid,
      layer: layer(),
      secondInstance: layer(),
      claimElsewhere: async (account, generation, { machine, presenting, at }) => {
        const child =
          machine === "this"
            ? spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"], { stdio: "ignore" })
            : undefined;
        if (child !== undefined) children.push(child);
        const pid = child?.pid ?? 77;
        const host = machine === "this" ? hostname() : "another-machine";
        await Effect.runPromise(
          Effect.scoped(
            Effect.gen(function* () {
              const granted = yield* store.acquire(account, generation, {
                claimant: { host, pid, at },
                refreshFp: "fp",
              });
              if (granted._tag === "Granted" && presenting) {
                yield* store.markPresenting(account, generation, granted.attempt);
              }
            }),
          ),
        );
        return {
          pid,
          kill: () =>
            child === undefined
              ? Promise.resolve()
              : new Promise<void>((resolve) => {
                  child.once("exit", () => resolve());
                  child.kill("SIGKILL");
                }),
        };
      },
      remoteLiveness: "time-bound",
      deathNoticedWithinMs: 0,
      cleanup: async () => {
        for (const child of children) child.kill("SIGKILL");
        await rm(home, { recursive: true, force: true });
      },
    };
  },
  "time-bound",
);
