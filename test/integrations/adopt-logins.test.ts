/**
 * `baton import REF --from claude-code|codex|gemini|gh`: each tool's file, in that tool's shape and at its usual path
 * (found through the tool's own environment variables), written at run time with tokens the local authorization
 * server issued to a separate login; then a refresh through baton: one server call, no reuse. The event records where
 * the login came from, stderr says the original tool must stop refreshing it, and a malformed file names the tool's
 * field and writes nothing.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempHome } from "../support/baton-cli.ts";
import { cliSession, leaks, loginWithCli } from "../support/cli-session.ts";

let server: AuthorizationServer;
let donor: { home: string; cleanup: () => Promise<void> };
let target: ReturnType<typeof cliSession>;
let targetCleanup: () => Promise<void>;
let files: string;
const secrets = new Set<string>();

interface Issued {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly expiresAt: number;
  readonly scope: string;
}

/** A fresh login of the donor account (its own grant), read from the donor's file store. */
const issue = async (): Promise<Issued> => {
  const login = await loginWithCli(donor.home, "demo:donor");
  expect(login.code, login.stderr).toBe(0);
  const record = JSON.parse(
    await readFile(join(donor.home, "accounts", "demo", "donor", "secret.json"), "utf8"),
  ) as Issued;
  secrets.add(record.accessToken);
  secrets.add(record.refreshToken);
  return record;
};

const addProvider = async (session: ReturnType<typeof cliSession>) => {
  const add = ["provider", "add", "demo", "--issuer", server.issuer, "--client-id", server.clientId];
  expect((await session.run([...add, "--scope", server.scopes])).code).toBe(0);
};

const storedEvents = async (ref: string) => {
  const replay = JSON.parse((await target.run(["replay", ref, "--json"])).stdout) as {
    accounts: Array<{ events: Array<Record<string, unknown>> }>;
  };
  return (replay.accounts[0]?.events ?? []).filter((event) => event.type === "credentials.stored");
};

/** Imports with the tool's env, refreshes once through baton, and checks one server call and no reuse. */
const adoptThenRefresh = async (ref: string, from: string, env: Record<string, string>, issued: Issued) => {
  const imported = await target.run(["import", ref, "--from", from], { env });
  expect(imported.code, imported.stderr).toBe(0);
  expect(imported.stderr).toMatch(/must stop refreshing|should stop using/);
  const before = server.counters();
  const refreshed = await target.run(["refresh", ref]);
  expect(refreshed.code, refreshed.stderr).toBe(0);
  const after = server.counters();
  expect(after.refreshGrants - before.refreshGrants).toBe(1);
  expect(after.reuseErrors).toBe(before.reuseErrors);
  expect(after.grantsRevoked).toBe(before.grantsRevoked);
  const now = (await target.run(["token", ref])).stdout.trimEnd();
  secrets.add(now);
  expect(now).not.toBe(issued.accessToken);
  const events = await storedEvents(ref);
  expect(events.map((event) => event.source)).toEqual(["import", "refresh"]);
  expect(String(events[0]?.origin)).toMatch(new RegExp(`^${from} /`));
  return imported;
};

beforeAll(async () => {
  server = await startAuthorizationServer({ accessTokenTtlSeconds: 600 });
  donor = await tempHome();
  await addProvider(cliSession(donor.home));
  const made = await tempHome();
  targetCleanup = made.cleanup;
  target = cliSession(made.home);
  await addProvider(target);
  files = await mkdtemp(join(tmpdir(), "baton-adopt-"));
});

afterAll(async () => {
  await server?.stop();
  await donor?.cleanup();
  await targetCleanup?.();
  await rm(files, { recursive: true, force: true });
});

describe("baton import --from", () => {
  it("claude-code - should adopt claudeAiOauth from $CLAUDE_CONFIG_DIR/.credentials.json, then refresh once", async () => {
    const issued = await issue();
    const dir = join(files, "claude");
    await mkdir(dir);
    const file = {
      claudeAiOauth: {
        accessToken: issued.accessToken,
        refreshToken: issued.refreshToken,
        expiresAt: issued.expiresAt,
        scopes: issued.scope.split(" "),
        subscriptionType: "pro",
      },
    };
    await writeFile(join(dir, ".credentials.json"), JSON.stringify(file), { mode: 0o600 });
    const imported = await adoptThenRefresh("demo:claude", "claude-code", { CLAUDE_CONFIG_DIR: dir }, issued);
    expect(imported.stderr).toContain("baton exec --env CLAUDE_CODE_OAUTH_TOKEN=demo:claude -- claude");
  });

  it("codex - should adopt tokens from $CODEX_HOME/auth.json, treating an opaque access token as due", async () => {
    const issued = await issue();
    const dir = join(files, "codex");
    await mkdir(dir);
    const file = {
      OPENAI_API_KEY: null,
      tokens: { id_token: "not-used", access_token: issued.accessToken, refresh_token: issued.refreshToken },
      last_refresh: new Date().toISOString(),
    };
    await writeFile(join(dir, "auth.json"), JSON.stringify(file), { mode: 0o600 });
    const imported = await target.run(["import", "demo:codex", "--from", "codex"], { env: { CODEX_HOME: dir } });
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).toContain("Codex must stop refreshing this login");
    // Due at once: the first token request refreshes it — one server call, no reuse.
    const before = server.counters();
    const first = (await target.run(["token", "demo:codex"])).stdout.trimEnd();
    secrets.add(first);
    expect(first).not.toBe(issued.accessToken);
    expect(server.counters().refreshGrants - before.refreshGrants).toBe(1);
    expect(server.counters().reuseErrors).toBe(before.reuseErrors);
    expect((await target.run(["token", "demo:codex"])).stdout.trimEnd()).toBe(first);
    expect(server.counters().tokenRequests - before.tokenRequests).toBe(1);
  });

  it("gemini - should adopt ~/.gemini/oauth_creds.json (google-auth-library credentials), then refresh once", async () => {
    const issued = await issue();
    const dir = join(files, "gemini-home");
    await mkdir(join(dir, ".gemini"), { recursive: true });
    const file = {
      access_token: issued.accessToken,
      refresh_token: issued.refreshToken,
      scope: issued.scope,
      token_type: "Bearer",
      id_token: "not-used",
      expiry_date: issued.expiresAt,
    };
    await writeFile(join(dir, ".gemini", "oauth_creds.json"), JSON.stringify(file), { mode: 0o600 });
    await adoptThenRefresh("demo:gemini", "gemini", { HOME: dir }, issued);
  });

  it("gh - should adopt github.com's oauth_token from hosts.yml; it has no refresh token, so a refresh needs a login", async () => {
    const issued = await issue();
    const dir = join(files, "gh");
    await mkdir(dir);
    const hosts =
      "github.com:\n    users:\n        octocat:\n            oauth_token: not-this-one\n" +
      `    git_protocol: https\n    oauth_token: ${issued.accessToken}\n    user: octocat\n`;
    await writeFile(join(dir, "hosts.yml"), hosts, { mode: 0o600 });
    const before = server.counters();
    const imported = await target.run(["import", "demo:gh", "--from", "gh"], { env: { GH_CONFIG_DIR: dir } });
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).toContain("(no refresh token)");
    expect(imported.stderr).toContain("gh tokens do not rotate and have no refresh token");
    expect((await target.run(["token", "demo:gh"])).stdout.trimEnd()).toBe(issued.accessToken);
    expect(server.counters().tokenRequests).toBe(before.tokenRequests);
    const refresh = await target.run(["refresh", "demo:gh"]);
    expect(refresh.code).toBe(3);
    expect(server.counters().tokenRequests).toBe(before.tokenRequests);
  });

  it("should name the tool's missing field, exit 2 and store nothing", async () => {
    const dir = join(files, "broken");
    await mkdir(dir);
    await writeFile(join(dir, ".credentials.json"), JSON.stringify({ claudeAiOauth: { refreshToken: "x" } }));
    const result = await target.run(["import", "demo:broken", "--from", "claude-code"], {
      env: { CLAUDE_CONFIG_DIR: dir },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("(claude-code): claudeAiOauth.accessToken: is required");
    const status = JSON.parse((await target.run(["status", "--json"])).stdout) as {
      accounts: Array<{ account: string }>;
    };
    expect(status.accounts.map((a) => a.account)).not.toContain("demo:broken");
  });

  it("should refuse --from with --plaintext, and an unknown tool, with exit 2", async () => {
    expect((await target.run(["import", "demo:x", "--from", "gh", "--plaintext"])).code).toBe(2);
    expect((await target.run(["import", "demo:x", "--from", "vscode"])).code).toBe(2);
  });

  it("should show no token in any output", () => {
    expect(secrets.size).toBeGreaterThan(4);
    expect(leaks(target.outputs(), secrets)).toEqual([]);
  });
});
