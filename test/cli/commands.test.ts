/**
 * Every everyday command through the real CLI (child processes of the bundled baton.mjs) against the local
 * authorization server: provider add / list / remove, login, token, status, refresh, exec, use, replay, clean,
 * rebuild, doctor and logout — exit code, stdout and stderr of each, `--json` parsed — and finally a scan of every
 * output but `baton token`'s stdout for every token this session saw (I8).
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fingerprint } from "@baton/core";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempHome } from "../support/baton-cli.ts";
import { cliSession, leaks, loginWithCli } from "../support/cli-session.ts";

let server: AuthorizationServer;
let home: string;
let cleanup: () => Promise<void>;
let session: ReturnType<typeof cliSession>;
const secrets = new Set<string>();

const rememberStoredTokens = async (ref: string) => {
  const [provider = "", account = ""] = ref.split(":");
  const text = await readFile(join(home, "accounts", provider, account, "secret.json"), "utf8").catch(() => "{}");
  const record = JSON.parse(text) as { accessToken?: string; refreshToken?: string };
  for (const value of [record.accessToken, record.refreshToken]) if (value !== undefined) secrets.add(value);
};

const tokenOf = async (ref: string): Promise<string> => {
  const result = await session.run(["token", ref]);
  expect(result.code, result.stderr).toBe(0);
  const token = result.stdout.trimEnd();
  secrets.add(token);
  return token;
};

beforeAll(async () => {
  server = await startAuthorizationServer({ accessTokenTtlSeconds: 600 });
  ({ home, cleanup } = await tempHome());
  session = cliSession(home);
});

afterAll(async () => {
  await server?.stop();
  await cleanup?.();
});

describe("the everyday commands, in the order a user meets them", () => {
  it("provider add discovers the issuer and reports on stderr only", async () => {
    const args = ["provider", "add", "demo", "--issuer", server.issuer, "--client-id", server.clientId];
    const result = await session.run([...args, "--scope", server.scopes]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(`added provider demo (${server.issuer})`);
  });

  it("provider list shows the provider as a table and as versioned JSON", async () => {
    const table = await session.run(["provider", "list"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NAME\s+ISSUER/);
    expect(table.stdout).toContain(server.issuer);
    const json = await session.run(["provider", "list", "--json"]);
    const parsed = JSON.parse(json.stdout) as { version: number; providers: Array<Record<string, unknown>> };
    expect(parsed.version).toBe(1);
    expect(parsed.providers[0]).toMatchObject({ name: "demo", issuer: server.issuer, confidential: false });
    expect(parsed.providers[0]).not.toHaveProperty("clientSecret");
  });

  it("login prints the authorization URL on stderr and stores generation 1", async () => {
    const result = await loginWithCli(home, "demo:you");
    session.results.push(result);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/Open this URL to log in demo:you:\nhttp:\/\/127\.0\.0\.1:\d+\/auth\?/);
    expect(result.stderr).toContain("logged in demo:you (generation 1)");
    await rememberStoredTokens("demo:you");
  });

  it("token prints the access token and nothing else, for PROVIDER:ACCOUNT and for the provider's default", async () => {
    const full = await session.run(["token", "demo:you"]);
    expect(full.code).toBe(0);
    expect(full.stdout).toMatch(/^\S{16,}\n$/);
    expect(full.stderr).toBe("");
    expect(await tokenOf("demo")).toBe(full.stdout.trimEnd());
    secrets.add(full.stdout.trimEnd());
  });

  it("status shows the account as a table and as JSON with fingerprints, never a token", async () => {
    const token = await tokenOf("demo:you");
    const table = await session.run(["status"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/demo:you \*\s+\S+\s+valid\s+1\s+in \d+m/);
    const json = await session.run(["status", "demo:you", "--json"]);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { version: number; accounts: Array<Record<string, unknown>> };
    expect(parsed.version).toBe(1);
    expect(parsed.accounts).toEqual([
      expect.objectContaining({ account: "demo:you", state: "valid", generation: 1, accessFp: fingerprint(token) }),
    ]);
    expect(parsed.accounts[0]).toMatchObject({ storage: "file", inDoubt: null, lastError: null });
  });

  it("refresh rotates once per call, for one account or --all, and token then prints the new token", async () => {
    const before = await tokenOf("demo:you");
    const one = await session.run(["refresh", "demo:you"]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toBe("");
    expect(one.stderr).toContain("demo:you now at generation 2");
    const all = await session.run(["refresh", "--all"]);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stderr).toContain("demo:you now at generation 3");
    await rememberStoredTokens("demo:you");
    expect(await tokenOf("demo:you")).not.toBe(before);
    expect(server.counters().reuseErrors).toBe(0);
  });

  it("exec gives the command the token in its environment and exits with the command's code", async () => {
    const token = await tokenOf("demo:you");
    const printFingerprint = (name: string) =>
      `process.stdout.write(require("node:crypto").createHash("sha256").update(process.env.${name} ?? "").digest("hex").slice(0, 8))`;
    const plain = await session.run([
      "exec",
      "demo:you",
      "--",
      process.execPath,
      "-e",
      printFingerprint("BATON_ACCESS_TOKEN"),
    ]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toBe(fingerprint(token));
    const named = await session.run([
      "exec",
      "demo",
      "--env",
      "GH_TOKEN",
      "--",
      process.execPath,
      "-e",
      printFingerprint("GH_TOKEN"),
    ]);
    expect(named.stdout).toBe(createHash("sha256").update(token).digest("hex").slice(0, 8));
    const failing = await session.run(["exec", "demo:you", "--", process.execPath, "-e", "process.exit(7)"]);
    expect(failing.code).toBe(7);
  });

  it("use makes another account the provider's default, so a bare PROVIDER names it", async () => {
    const work = await loginWithCli(home, "demo:work");
    session.results.push(work);
    expect(work.code, work.stderr).toBe(0);
    await rememberStoredTokens("demo:work");
    const result = await session.run(["use", "demo:work"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("demo now means demo:work");
    expect(await tokenOf("demo")).toBe(await tokenOf("demo:work"));
    expect((await session.run(["use", "demo:you"])).code).toBe(0);
    expect(await tokenOf("demo")).toBe(await tokenOf("demo:you"));
  });

  it("replay shows each account's timeline as text and as JSON", async () => {
    const text = await session.run(["replay", "demo:you"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("demo:you — valid; 2 refreshes");
    expect(text.stdout).toMatch(/#1 \S+ \S+:\d+ {2}stored generation 1 \(login\) access [0-9a-f]{8}/);
    const json = await session.run(["replay", "--json"]);
    const parsed = JSON.parse(json.stdout) as {
      accounts: Array<{ account: string; anomalies: unknown[]; events: unknown[] }>;
    };
    expect(parsed.accounts.map((a) => a.account)).toEqual(["demo:work", "demo:you"]);
    expect(parsed.accounts.every((a) => a.anomalies.length === 0 && a.events.length > 0)).toBe(true);
  });

  it("clean finds nothing to remove in a healthy home, as text and as JSON", async () => {
    const text = await session.run(["clean"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toBe("nothing to clean\n");
    const json = JSON.parse((await session.run(["clean", "--json"])).stdout) as Record<string, unknown>;
    expect(json).toEqual({ version: 1, dryRun: true, accounts: [], sessions: [] });
  });

  it("rebuild reports both accounts and keeps the chosen default", async () => {
    const text = await session.run(["rebuild"]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/demo:work\s+valid\s+yes\s+\d+\s+credentials and history/);
    expect(text.stdout).toContain("demo → demo:you (kept)");
    const json = JSON.parse((await session.run(["rebuild", "--json"])).stdout) as Record<string, unknown>;
    expect(json.providers).toEqual([{ provider: "demo", action: "kept", message: "registered" }]);
    expect(json.defaults).toEqual([{ provider: "demo", account: "you", action: "kept" }]);
  });

  it("doctor finds nothing wrong: permissions, config, issuer and clock skew, accounts", async () => {
    const text = await session.run(["doctor"]);
    expect(text.code, text.stdout).toBe(0);
    expect(text.stdout).toMatch(/^ok {4}.*directories 0700, \d+ files 0600, no symbolic links$/m);
    expect(text.stdout).toMatch(
      /^ok {4}demo: http:\/\/127\.0\.0\.1:\d+ is reachable \(HTTP 200 in \d+ ms\); clock skew [+-]\d+\.\d s$/m,
    );
    expect(text.stdout).toMatch(/^ok {4}demo:you: valid, generation 3, storage file, \d+ events$/m);
    const json = JSON.parse((await session.run(["doctor", "--json"])).stdout) as {
      checks: Array<{ check: string; status: string }>;
      summary: { fail: number; warn: number };
      exitCode: number;
    };
    expect(json.summary).toMatchObject({ fail: 0, warn: 0 });
    expect(json.exitCode).toBe(0);
    expect(json.checks.map((c) => c.check)).toEqual(
      expect.arrayContaining(["permissions", "config", "issuer", "account"]),
    );
  });

  it("logout revokes and removes the credentials; the account then needs a login (exit 3)", async () => {
    const result = await session.run(["logout", "demo:work"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("logged out demo:work");
    const after = await session.run(["token", "demo:work"]);
    expect(after.code).toBe(3);
    expect(after.stdout).toBe("");
    expect(after.stderr).toContain("baton login demo:work");
  });

  it("provider remove unregisters the provider; logging in to it is then 'not found' (exit 5)", async () => {
    const result = await session.run(["provider", "remove", "demo"]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("removed provider demo");
    expect((await session.run(["provider", "list"])).stdout).toContain("no providers yet");
    const login = await session.run(["login", "demo:you", "--no-browser"]);
    expect(login.code).toBe(5);
    expect(login.stderr).toContain('no provider named "demo"');
  });

  it("no output but baton token's stdout ever held an access or refresh token", () => {
    expect(secrets.size).toBeGreaterThanOrEqual(6);
    expect(leaks(session.outputs(), secrets)).toEqual([]);
  });
});
