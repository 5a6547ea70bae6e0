/**
 * `baton token REF` answers a fresh token on a fast path that loads none of the protocol's machinery. It must still
 * read the store by exactly the rules of the full path: a directory swapped for a symbolic link anywhere below
 * BATON_HOME is refused (never followed to a planted token), and a loosened secret file is repaired with a warning.
 * Each case runs the same command twice on the same home — once on the fast path, once on the full path (BATON_DEBUG=1
 * turns the fast path off) — and expects the same outcome.
 */
import { chmod, cp, lstat, mkdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCOUNT, accountDir, type LoggedInAccount, loggedInAccount, PROVIDER, REF } from "../support/account.ts";
import { type BatonResult, runBaton } from "../support/baton-cli.ts";

let server: AuthorizationServer;
beforeAll(async () => {
  server = await startAuthorizationServer({ accessTokenTtlSeconds: 3600 });
});
afterAll(async () => {
  await server?.stop();
});

const PLANTED = "planted-access-token-that-must-never-be-printed";

/** A copy of the account directory at `target` whose secret record holds a fresh, planted access token. */
const plantAccountCopy = async (home: string, target: string): Promise<void> => {
  await mkdir(dirname(target), { recursive: true, mode: 0o700 });
  await cp(accountDir(home), target, { recursive: true });
  const path = join(target, "secret.json");
  const record = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
  const now = Date.now();
  await writeFile(
    path,
    JSON.stringify({ ...record, accessToken: PLANTED, obtainedAt: now, expiresAt: now + 3_600_000 }),
  );
  await chmod(path, 0o600);
};

/** The store swapped for symbolic links at one level: `accounts`, `accounts/demo` or `accounts/demo/you`. */
const swapForSymlink = async (home: string, level: "accounts" | "provider" | "account"): Promise<void> => {
  const planted = join(home, "..", `${home.split("/").pop()}-planted`);
  const parts = { accounts: ["accounts"], provider: ["accounts", PROVIDER], account: ["accounts", PROVIDER, ACCOUNT] };
  const original = join(home, ...parts[level]);
  const target = join(planted, ...parts[level]);
  const inside = join(target, ...["accounts", PROVIDER, ACCOUNT].slice(parts[level].length));
  await plantAccountCopy(home, inside);
  await rename(original, `${original}.moved`);
  await symlink(target, original);
};

const fastAndFull = async (home: string): Promise<{ readonly fast: BatonResult; readonly full: BatonResult }> => ({
  fast: await runBaton(["token", REF], { home }),
  full: await runBaton(["token", REF], { home, env: { BATON_DEBUG: "1" } }),
});

describe("baton token's fast path", () => {
  let account: LoggedInAccount | undefined;
  afterAll(async () => {
    await account?.cleanup();
  });

  for (const level of ["account", "provider", "accounts"] as const) {
    it(`given the ${level} directory swapped for a symlink to a planted token, should refuse it like the full path`, async () => {
      account = await loggedInAccount(server);
      const { home } = account;
      await swapForSymlink(home, level);
      const { fast, full } = await fastAndFull(home);
      expect(full.stdout).toBe("");
      expect(full.code).not.toBe(0);
      expect(full.stderr).toMatch(/symbolic link/);
      expect({ stdout: fast.stdout, code: fast.code }).toEqual({ stdout: "", code: full.code });
      expect(fast.stderr).toMatch(/symbolic link/);
      await rm(join(home, "..", `${home.split("/").pop()}-planted`), { recursive: true, force: true });
      await account.cleanup();
      account = undefined;
    }, 60_000);
  }

  it("given a secret file loosened to 0644, should repair it with a warning like the full path", async () => {
    account = await loggedInAccount(server);
    const { home } = account;
    const path = join(accountDir(home), "secret.json");
    await chmod(path, 0o644);
    const fast = await runBaton(["token", REF], { home });
    expect(fast.code).toBe(0);
    expect(fast.stdout.trim().length).toBeGreaterThan(8);
    expect(fast.stderr).toMatch(/^baton: warning: .*secret\.json had loose permissions 644; repaired to 600\n$/);
    expect((await lstat(path)).mode & 0o777).toBe(0o600);
    await chmod(path, 0o644);
    const full = await runBaton(["token", REF], { home, env: { BATON_DEBUG: "1" } });
    expect(full.stdout).toBe(fast.stdout);
    expect(full.stderr).toContain("secret.json had loose permissions 644; repaired to 600");
  }, 60_000);
});
