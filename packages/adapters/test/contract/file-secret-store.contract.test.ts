/**
 * The SecretStore contract against the file secret store, each test in a fresh temporary BATON_HOME.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileSecretStore } from "../../src/file/index.ts";
import { secretStoreContract } from "./secret-store-contract.ts";

secretStoreContract("file secret store", async () => {
  const home = await mkdtemp(join(tmpdir(), "baton-contract-"));
  return {
    layer: FileSecretStore.layer({ home }),
    cleanup: () => rm(home, { recursive: true, force: true }),
  };
});
