/**
 * The ClaimStore contract against the file claim store, each test in a fresh temporary BATON_HOME; "other processes"
 * are real child processes (alive while they sleep, dead once killed and reaped).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { Layer } from "effect";
import { FileClaimStore, NodeHostIdentity } from "../../src/file/index.ts";
import { claimStoreContract } from "./claim-store-contract.ts";

claimStoreContract("file claim store", async () => {
  const home = await mkdtemp(join(tmpdir(), "baton-contract-"));
  const children: Array<ChildProcess> = [];
  const layer = () => FileClaimStore.layer({ home }).pipe(Layer.provide(NodeHostIdentity.layer));
  return {
    host: hostname(),
    pid: process.pid,
    layer: layer(),
    secondInstance: layer(),
    aliveProcess: () => {
      const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"], { stdio: "ignore" });
      children.push(child);
      return {
        pid: child.pid ?? -1,
        kill: () =>
          new Promise<void>((resolve) => {
            child.once("exit", () => resolve());
            child.kill("SIGKILL");
          }),
      };
    },
    cleanup: async () => {
      for (const child of children) child.kill("SIGKILL");
      await rm(home, { recursive: true, force: true });
    },
  };
});
