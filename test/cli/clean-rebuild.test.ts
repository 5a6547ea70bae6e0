/**
 * `baton clean` and `baton rebuild` through the real CLI, on stores prepared the way time and accidents leave them:
 * accounts whose last event is days old (written straight into the file stores, since a test cannot wait a week),
 * a session left by a crashed process, a lost or malformed config.json, credentials without history and history
 * without credentials.
 */
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FileSecretStore } from "@baton/adapters";
import type { AccountRef } from "@baton/core";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempHome } from "../support/baton-cli.ts";
import { cliSession, DAY_MS, loginWithCli, writeAgedAccount, writeOrphanSession } from "../support/cli-session.ts";

let server: AuthorizationServer;
const cleanups: Array<() => Promise<void>> = [];

const freshHome = async (register = true) => {
  const { home, cleanup } = await tempHome();
  cleanups.push(cleanup);
  const session = cliSession(home);
  if (register) {
    const args = ["provider", "add", "demo", "--issuer", server.issuer, "--client-id", server.clientId];
    expect((await session.run([...args, "--scope", server.scopes])).code).toBe(0);
  }
  return session;
};

const ref = (provider: string, account: string): AccountRef => ({ provider, account });
const hasSecret = (home: string, r: AccountRef) =>
  stat(join(home, "accounts", r.provider, r.account, "secret.json")).then(
    () => true,
    () => false,
  );

beforeAll(async () => {
  server = await startAuthorizationServer({ accessTokenTtlSeconds: 600 });
});

afterAll(async () => {
  await server?.stop();
  for (const cleanup of cleanups) await cleanup();
});

describe("baton clean", () => {
  it("given accounts idle for 9 days, lists only the unrefreshable ones and a crashed session, then removes them with --yes", async () => {
    const { home, run } = await freshHome();
    const base = { issuer: server.issuer, clientId: server.clientId, ageMs: 9 * DAY_MS };
    await writeAgedAccount(home, {
      ...base,
      ref: ref("demo", "gone"),
      ending: "revoked",
      refreshToken: "r-gone-0123456",
    });
    await writeAgedAccount(home, { ...base, ref: ref("demo", "stale"), ending: "expired" });
    await writeAgedAccount(home, {
      ...base,
      ref: ref("demo", "failing"),
      ending: "expired",
      refreshToken: "r-failing-0123",
      failedRefresh: true,
    });
    await writeAgedAccount(home, {
      ...base,
      ref: ref("other", "orphan"),
      ending: "expired",
      refreshToken: "r-orphan-01234",
    });
    await writeAgedAccount(home, {
      ...base,
      ref: ref("demo", "idle"),
      ending: "expired",
      refreshToken: "r-idle-0123456",
    });
    const recent = { ...base, ageMs: 2 * DAY_MS };
    await writeAgedAccount(home, {
      ...recent,
      ref: ref("demo", "recent"),
      ending: "revoked",
      refreshToken: "r-recent-01234",
    });
    const pid = await writeOrphanSession(home, ref("demo", "idle"));

    const dry = await run(["clean"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(
      "would remove demo:gone: revoked: the provider rejected its refresh token; last activity 9d ago",
    );
    expect(dry.stdout).toContain("would remove demo:stale: expired, and there is no refresh token");
    expect(dry.stdout).toContain("would remove demo:failing: expired, and the last refresh failed (server-error)");
    expect(dry.stdout).toContain("would remove other:orphan: expired, and provider other is no longer registered");
    expect(dry.stdout).toContain(`would remove exec session of demo:idle, pid ${pid}`);
    expect(dry.stdout).not.toMatch(/demo:idle:|demo:recent/);
    expect(dry.stdout).toContain(
      "dry run: nothing was changed; `baton clean --yes` removes 4 account(s) and 1 session(s)",
    );
    expect(await hasSecret(home, ref("demo", "gone"))).toBe(true);

    const json = JSON.parse((await run(["clean", "--json"])).stdout) as {
      dryRun: boolean;
      accounts: Array<{ account: string; removed: boolean; state: string }>;
      sessions: Array<{ pid: number; reason: string }>;
    };
    expect(json.dryRun).toBe(true);
    expect(json.accounts.map((a) => [a.account, a.state, a.removed])).toEqual([
      ["demo:failing", "expired", false],
      ["demo:gone", "revoked", false],
      ["demo:stale", "expired", false],
      ["other:orphan", "expired", false],
    ]);
    expect(json.sessions).toEqual([expect.objectContaining({ pid, reason: "process-gone" })]);

    const done = await run(["clean", "--yes"]);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain("removed demo:gone");
    expect(done.stdout).toContain("removed 4 account(s) (credentials deleted, event history kept) and 1 session(s)");
    for (const name of ["gone", "stale", "failing"]) expect(await hasSecret(home, ref("demo", name))).toBe(false);
    expect(await hasSecret(home, ref("other", "orphan"))).toBe(false);
    expect(await hasSecret(home, ref("demo", "idle"))).toBe(true);
    expect(await hasSecret(home, ref("demo", "recent"))).toBe(true);
    expect((await run(["replay", "demo:gone"])).stdout).toContain("logged out at generation 1");

    const again = await run(["clean", "--yes"]);
    expect(again.stdout).toBe("nothing to clean\n");
  });
});

describe("baton rebuild", () => {
  it("given a lost config.json, registers the provider again from the stored credentials and sets the only account as default", async () => {
    const { home, run } = await freshHome();
    expect((await loginWithCli(home, "demo:you")).code).toBe(0);
    expect((await loginWithCli(home, "demo:work")).code).toBe(0);
    expect((await run(["logout", "demo:work", "--keep-remote"])).code).toBe(0);
    await rm(join(home, "config.json"));
    expect((await run(["token", "demo"])).code).toBe(5);

    const first = await run(["rebuild"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/demo:work\s+unauthenticated\s+no\s+\d+\s+history only \(logged out or revoked\)/);
    expect(first.stdout).toMatch(/demo:you\s+valid\s+yes\s+\d+\s+credentials and history/);
    expect(first.stdout).toContain(
      `provider demo: registered: registered again from stored credentials: ${server.issuer}`,
    );
    expect(first.stdout).toContain("demo → demo:you (set: its only account)");
    expect((await run(["token", "demo"])).code).toBe(0);

    const second = JSON.parse((await run(["rebuild", "--json"])).stdout) as Record<string, unknown>;
    expect(second.providers).toEqual([{ provider: "demo", action: "kept", message: "registered" }]);
    expect(second.defaults).toEqual([{ provider: "demo", account: "you", action: "kept" }]);
  });

  it("given a lost config.json, registers the provider again with the scope its accounts were logged in with, so a new login gets a refresh token", async () => {
    const { home, run } = await freshHome();
    expect((await loginWithCli(home, "demo:you")).code).toBe(0);
    await rm(join(home, "config.json"));
    expect((await run(["rebuild"])).code).toBe(0);
    const listed = JSON.parse((await run(["provider", "list", "--json"])).stdout) as {
      providers: Array<{ name: string; scope?: string }>;
    };
    const scope = listed.providers.find((p) => p.name === "demo")?.scope ?? "";
    expect(scope.split(" ").sort()).toEqual(server.scopes.split(" ").sort());
    expect((await loginWithCli(home, "demo:again")).code).toBe(0);
    const again = JSON.parse(await readFile(join(home, "accounts", "demo", "again", "secret.json"), "utf8"));
    expect(typeof again.refreshToken).toBe("string");
  });

  it("reports credentials without history, and leaves the default open when several accounts could be it", async () => {
    const { home, run } = await freshHome();
    expect((await loginWithCli(home, "demo:you")).code).toBe(0);
    const record = {
      version: 1 as const,
      generation: 1,
      tokenType: "Bearer",
      issuer: server.issuer,
      clientId: server.clientId,
    };
    const manual = {
      ...record,
      account: "demo:manual",
      accessToken: "manual-access-0123",
      expiresAt: Date.now() + 60_000,
      obtainedAt: Date.now(),
    };
    await Effect.runPromise(FileSecretStore.make({ home }).write(ref("demo", "manual"), manual, 0));
    await rm(join(home, "config.json"));
    const result = await run(["rebuild", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const parsed = JSON.parse(result.stdout) as { accounts: Array<Record<string, unknown>>; defaults: unknown };
    expect(parsed.accounts).toContainEqual(
      expect.objectContaining({ account: "demo:manual", secrets: true, events: 0, kind: "no-events" }),
    );
    expect(parsed.defaults).toEqual([{ provider: "demo", account: null, action: "ambiguous" }]);
    expect((await run(["rebuild"])).stdout).toContain(
      "demo: several accounts, no default; choose one with `baton use demo:ACCOUNT`",
    );
  });

  it("given a corrupt secret record, reports it moved to quarantine and rebuilds the rest", async () => {
    const { home, run } = await freshHome();
    expect((await loginWithCli(home, "demo:you")).code).toBe(0);
    expect((await loginWithCli(home, "demo:work")).code).toBe(0);
    await writeFile(join(home, "accounts", "demo", "work", "secret.json"), "{ torn", { mode: 0o600 });
    const result = await run(["rebuild", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const parsed = JSON.parse(result.stdout) as { accounts: Array<{ account: string; kind: string; note: string }> };
    const work = parsed.accounts.find((a) => a.account === "demo:work");
    expect(work).toMatchObject({
      kind: "no-secrets",
      note: expect.stringContaining("is not valid JSON; it was moved to"),
    });
    expect(parsed.accounts.find((a) => a.account === "demo:you")).toMatchObject({ kind: "in-use" });
  });

  it("given an issuer that cannot be reached, reports it and exits 4 (retryable)", async () => {
    const gone = await startAuthorizationServer();
    const { home, run } = await freshHome(false);
    await writeAgedAccount(home, {
      ref: ref("gone", "x"),
      issuer: gone.issuer,
      clientId: gone.clientId,
      ageMs: 0,
      ending: "expired",
      refreshToken: "r-x-0123456789",
    });
    await gone.stop();
    const result = await run(["rebuild"]);
    expect(result.code).toBe(4);
    expect(result.stdout).toContain("provider gone: failed:");
    expect(result.stderr).toContain("could not register gone again; try again when the issuer is reachable");
  });

  it("given a malformed config.json, exits 2 naming the field and never overwrites it", async () => {
    const { home, run } = await freshHome(false);
    const broken = '{"version":1,"providers":{"demo":{"issuer":"not a url","clientId":"x"}}}\n';
    await writeFile(join(home, "config.json"), broken, { mode: 0o600 });
    const result = await run(["rebuild"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("config.json: providers.demo.issuer: expected a URL");
    expect(await readFile(join(home, "config.json"), "utf8")).toBe(broken);
  });
});
