/**
 * Credentials are bound to the issuer and client that issued them (#14 item 2, I10), with real `baton` processes and
 * two local authorization servers: re-registering a provider name with another issuer, or editing the issuer in the
 * stored record, makes a refresh refuse with a "log in" error (exit 3) naming both — and neither server sees a
 * request. Before: the old refresh token went to the new issuer, and an edited record was ignored.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  accountDir,
  loggedInAccount,
  PROVIDER,
  REF,
  readSecretRecord,
  token,
  waitUntilExpired,
} from "../support/account.ts";
import { runBaton } from "../support/baton-cli.ts";
import { describeExit, useLocalServer } from "../support/local-server.ts";

const original = useLocalServer({ accessTokenTtlSeconds: 2 });
const other = useLocalServer({ accessTokenTtlSeconds: 2 });

const requests = () => original().counters().tokenRequests + other().counters().tokenRequests;

describe("credentials bound to their issuer", () => {
  it("provider re-added with another issuer - should refuse to send the refresh token anywhere (exit 3)", async () => {
    const account = await loggedInAccount(original());
    try {
      const removed = await runBaton(["provider", "remove", PROVIDER], { home: account.home });
      expect(removed.code, describeExit(removed)).toBe(0);
      const added = await runBaton(
        [
          "provider",
          "add",
          PROVIDER,
          "--issuer",
          other().issuer,
          "--client-id",
          other().clientId,
          "--scope",
          other().scopes,
        ],
        { home: account.home },
      );
      expect(added.code, describeExit(added)).toBe(0);
      await waitUntilExpired(account.home);
      const before = requests();
      const result = await token(account.home);
      expect(result.code, describeExit(result)).toBe(3);
      expect(result.stdout).toBe("");
      expect(result.stderr).toContain(original().issuer);
      expect(result.stderr).toContain(other().issuer);
      expect(result.stderr).toContain(`baton login ${REF}`);
      expect(requests()).toBe(before);
      expect((await readSecretRecord(account.home)).generation).toBe(1);
    } finally {
      await account.cleanup();
    }
  });

  it("an issuer edited in the stored record - should be refused too, nothing sent", async () => {
    const account = await loggedInAccount(original());
    try {
      const path = join(accountDir(account.home), "secret.json");
      const record = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
      await writeFile(path, JSON.stringify({ ...record, issuer: other().issuer }), { mode: 0o600 });
      await waitUntilExpired(account.home);
      const before = requests();
      const result = await token(account.home);
      expect(result.code, describeExit(result)).toBe(3);
      expect(result.stderr).toContain(other().issuer);
      expect(requests()).toBe(before);
    } finally {
      await account.cleanup();
    }
  });
});
