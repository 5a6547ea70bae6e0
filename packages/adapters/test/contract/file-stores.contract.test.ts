/**
 * The EventStore and AccountLock contracts against the file adapters, each test in a fresh temporary BATON_HOME; the
 * lock's "other process" is a real child process holding it through the adapter (fixtures/holder.mjs).
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Layer } from "effect";
import { FileEventStore, FileLock, FileSecretStore, NodeHostIdentity } from "../../src/file/index.ts";
import { eventStoreContract } from "./event-store-contract.ts";
import { startHolder } from "./holder.ts";
import { lockContract } from "./lock-contract.ts";

eventStoreContract("file event store", async () => {
  const home = await mkdtemp(join(tmpdir(), "baton-contract-"));
  return {
    layer: FileEventStore.layer({ home }).pipe(Layer.provide(NodeHostIdentity.layer)),
    cleanup: () => rm(home, { recursive: true, force: true }),
  };
});

lockContract("file lock", async () => {
  const home = await mkdtemp(join(tmpdir(), "baton-contract-"));
  const children: Array<ChildProcess> = [];
  const layer = () => FileLock.layer({ home }).pipe(Layer.provide(NodeHostIdentity.layer));
  return {
    layer: layer(),
    secondInstance: layer(),
    secrets: FileSecretStore.layer({ home }),
    holdElsewhere: (account) => startHolder(["file", home, "lock", account.provider, account.account], children),
    deadHolderRecoveredWithinMs: 0,
    cleanup: async () => {
      for (const child of children) child.kill("SIGKILL");
      await rm(home, { recursive: true, force: true });
    },
  };
});
