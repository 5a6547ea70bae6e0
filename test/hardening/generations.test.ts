/**
 * Generations over an account's whole life and the refresh tokens it had (#14 items 1 and 3), with real `baton`
 * processes against the local authorization server (rotation + reuse detection):
 *
 * - a logout and a new login continue the account's generations, in the file store and in the OS keychain: a claim
 *   of the earlier life never blocks the later one (before: the new login restarted at generation 1, collided with
 *   the old claim on 1, and every process failed "in doubt");
 * - an export taken before a rotation cannot be imported back (it would present a used refresh token: the provider
 *   revokes the family), nor can the same token as plaintext; `export` says the copy shares one family, and
 *   `export --move` hands the login over (removed here, recorded).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  addProvider,
  claimFiles,
  loggedInAccount,
  loginHeadless,
  PROVIDER,
  REF,
  readSecretRecord,
  replayOf,
  status,
  token,
  waitUntilExpired,
} from "../support/account.ts";
import { runBaton, tempHome } from "../support/baton-cli.ts";
import { counterDelta, describeExit, useLocalServer } from "../support/local-server.ts";

const server = useLocalServer({ accessTokenTtlSeconds: 2 });

/** Lets the account's token expire, then `baton token` must rotate it with one server call. */
const rotate = async (home: string, ref: string, env: Readonly<Record<string, string>> = {}) => {
  await waitUntilExpired(home, 50, ref, env);
  const before = server().counters();
  const result = await token(home, ref, { env });
  expect(result.code, describeExit(result)).toBe(0);
  expect(counterDelta(server(), before)).toEqual({ refreshGrants: 1, reuseErrors: 0, tokenRequests: 1 });
  return result.stdout.trim();
};

const keychainAvailable = process.env.DBUS_SESSION_BUS_ADDRESS !== undefined;

describe("generations over an account's whole life", () => {
  for (const storage of ["file", "keychain"] as const) {
    it(`login after logout (${storage} storage) - should continue the generations, so the old claims never block a refresh`, async (context) => {
      if (storage === "keychain" && !keychainAvailable) {
        if (process.env.BATON_REQUIRE_KEYCHAIN === "1") throw new Error("BATON_REQUIRE_KEYCHAIN=1 but no session bus");
        return context.skip("no keychain (run under scripts/keyring/with-keyring.sh)");
      }
      const { home, cleanup } = await tempHome();
      const ref = `${PROVIDER}:life-${randomBytes(3).toString("hex")}`;
      const env = { BATON_STORAGE: storage };
      try {
        await addProvider(home, server());
        await loginHeadless(home, ref, env);
        await rotate(home, ref, env); // claims generation 1, stores 2
        const logout = await runBaton(["logout", ref], { home, env });
        expect(logout.code, describeExit(logout)).toBe(0);
        await loginHeadless(home, ref, env);
        const relogged = await status(home, ref, env);
        expect(relogged.generation).toBeGreaterThan(2);
        // Both the first refresh of the new life and a forced one go through.
        await rotate(home, ref, env);
        const forced = await runBaton(["refresh", ref], { home, env });
        expect(forced.code, describeExit(forced)).toBe(0);
        const now = await status(home, ref, env);
        expect(now.state).toBe("valid");
        expect(now.generation).toBe(relogged.generation + 2);
        const timeline = await replayOf(home, ref, env);
        expect(timeline.anomalies.filter((a) => a.kind !== "lock-wait")).toEqual([]);
        if (storage === "file") {
          // The first life's claims on generations before the current one's predecessor are gone.
          expect(await claimFiles(home, ref)).not.toContain("g1-a1.claim");
        }
      } finally {
        await runBaton(["logout", ref, "--keep-remote"], { home, env });
        await cleanup();
      }
    });
  }
});

describe("refresh tokens an account already had", () => {
  const passphrase = "correct horse battery staple";

  it("import of an export older than a rotation - should be refused, naming the generation, and present nothing", async () => {
    const account = await loggedInAccount(server());
    const dir = await mkdtemp(join(tmpdir(), "baton-export-"));
    try {
      const file = join(dir, "old.baton");
      const env = { BATON_PASSPHRASE: passphrase };
      const exported = await runBaton(["export", REF, "--out", file], { home: account.home, env });
      expect(exported.code, describeExit(exported)).toBe(0);
      expect(exported.stderr).toContain("shares ONE token family");
      await rotate(account.home, REF);
      const before = server().counters();
      const imported = await runBaton(["import", REF, file], { home: account.home, env });
      expect(imported.code, describeExit(imported)).toBe(2);
      expect(imported.stderr).toContain("generation 1");
      expect((await readSecretRecord(account.home)).generation).toBe(2);
      // Nothing was presented, and the account still refreshes.
      await rotate(account.home, REF);
      expect(counterDelta(server(), before)).toMatchObject({ reuseErrors: 0 });
    } finally {
      await rm(dir, { recursive: true, force: true });
      await account.cleanup();
    }
  });

  it("import --plaintext of a used refresh token - should be refused the same way", async () => {
    const account = await loggedInAccount(server());
    const dir = await mkdtemp(join(tmpdir(), "baton-import-"));
    try {
      const first = await readSecretRecord(account.home);
      await rotate(account.home, REF);
      const file = join(dir, "token.json");
      await writeFile(
        file,
        JSON.stringify({ access_token: first.accessToken, refresh_token: first.refreshToken, expires_in: 60 }),
        { mode: 0o600 },
      );
      const imported = await runBaton(["import", REF, file, "--plaintext"], { home: account.home });
      expect(imported.code, describeExit(imported)).toBe(2);
      expect(imported.stderr).toContain("generation 1");
      expect(imported.stderr).not.toContain(String(first.refreshToken));
      expect((await readSecretRecord(account.home)).generation).toBe(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await account.cleanup();
    }
  });

  it("export --move - should hand the login over: the file works elsewhere, the local copy is gone, and it is recorded", async () => {
    const account = await loggedInAccount(server());
    const other = await tempHome();
    const dir = await mkdtemp(join(tmpdir(), "baton-move-"));
    try {
      const file = join(dir, "moved.baton");
      const env = { BATON_PASSPHRASE: passphrase };
      const moved = await runBaton(["export", REF, "--out", file, "--move"], { home: account.home, env });
      expect(moved.code, describeExit(moved)).toBe(0);
      expect(moved.stderr).toContain("moved");
      const gone = await token(account.home);
      expect(gone.code, describeExit(gone)).toBe(3);
      const timeline = await replayOf(account.home);
      expect(timeline.events.find((e) => e.type === "account.exported")).toMatchObject({ moved: true, generation: 1 });
      await addProvider(other.home, server());
      const imported = await runBaton(["import", REF, file], { home: other.home, env });
      expect(imported.code, describeExit(imported)).toBe(0);
      await rotate(other.home, REF);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await other.cleanup();
      await account.cleanup();
    }
  });
});
