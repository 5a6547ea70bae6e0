/**
 * The Promise facade runs on the same wiring as the CLI (the adapters' composition root): an embedder that asks for
 * the keychain reads the account the CLI logged in with keychain storage, and the embedder's logger receives baton's
 * log lines (warnings and decisions, never a secret).
 *
 * The keychain case needs a usable Secret Service: it is skipped without one, and fails instead under
 * BATON_REQUIRE_KEYCHAIN=1 (`npm test` runs the suite under scripts/keyring/with-keyring.sh with that set). It uses a
 * unique account name and logs it out again, so a developer's own keychain keeps nothing of it.
 */
import { randomBytes } from "node:crypto";
import { chmod } from "node:fs/promises";
import { join } from "node:path";
import { createBaton, KeychainSecretStore } from "@baton/adapters";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { Effect, Exit } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accountDir, addProvider, loggedInAccount, loginHeadless, PROVIDER, REF } from "../support/account.ts";
import { runBaton, tempHome } from "../support/baton-cli.ts";

let server: AuthorizationServer;
beforeAll(async () => {
  server = await startAuthorizationServer({ accessTokenTtlSeconds: 3600 });
});
afterAll(async () => {
  await server?.stop();
});

const keychainUsable = Exit.isSuccess(await Effect.runPromiseExit(KeychainSecretStore.probe({ timeoutMs: 10_000 })));
const keychainRequired = process.env.BATON_REQUIRE_KEYCHAIN === "1";

describe("createBaton's wiring", () => {
  it.skipIf(!keychainUsable && !keychainRequired)(
    "given storage keychain, should read the account the CLI logged in with keychain storage",
    async () => {
      const { home, cleanup } = await tempHome();
      const ref = `${PROVIDER}:kc-${randomBytes(4).toString("hex")}`;
      const keychain = { BATON_STORAGE: "keychain" };
      try {
        await addProvider(home, server);
        await loginHeadless(home, ref, keychain);
        const cli = await runBaton(["token", ref], { home, env: keychain });
        expect(cli.code).toBe(0);
        const baton = await createBaton({ home, storage: "keychain", backgroundRefresh: false });
        try {
          expect(await baton.accessToken(ref)).toBe(cli.stdout.trim());
          const [status] = await baton.status(ref);
          expect(status?.storage).toBe("keychain");
        } finally {
          await baton.close();
        }
      } finally {
        await runBaton(["logout", ref, "--keep-remote"], { home, env: keychain });
        await cleanup();
      }
    },
    60_000,
  );

  it("given a logger, should hand it baton's warnings and decisions", async () => {
    const account = await loggedInAccount(server);
    const lines: Array<{ readonly level: string; readonly message: string }> = [];
    const baton = await createBaton({
      home: account.home,
      storage: "file",
      backgroundRefresh: false,
      logger: (level, message) => lines.push({ level, message }),
    });
    try {
      await chmod(join(accountDir(account.home), "secret.json"), 0o644);
      await baton.refresh(REF);
      expect(lines).toContainEqual({
        level: "warn",
        message: `${join(accountDir(account.home), "secret.json")} had loose permissions 644; repaired to 600`,
      });
      expect(lines).toContainEqual(
        expect.objectContaining({ level: "debug", message: expect.stringMatching(/rotated generation 1 → 2/) }),
      );
    } finally {
      await baton.close();
      await account.cleanup();
    }
  }, 60_000);
});
