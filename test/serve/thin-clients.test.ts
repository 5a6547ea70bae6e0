/**
 * Thin clients of a broker, for real: `baton serve` on a logged-in home (unix socket, and loopback TCP) and `baton`
 * processes with BATON_SERVER in empty homes — containers simulated as processes — asking for tokens through every
 * command that uses them: `token` (its fast path and `--json`), `exec`, `status`, and the credential helpers. Each
 * gets the broker's current access token; the broker records every hand-out and `replay` shows them.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createBaton } from "@baton/adapters";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoggedInAccount, loggedInAccount, REF, readSecretRecord } from "../support/account.ts";
import { runBaton } from "../support/baton-cli.ts";
import { DOCKER_HELPER, runWithInput } from "../support/helper-processes.ts";
import {
  clientToken,
  emptyHome,
  filesBelow,
  handOuts,
  type RunningBroker,
  startBroker,
  stopBroker,
  thin,
} from "./broker-support.ts";

let server: AuthorizationServer;
let account: LoggedInAccount;
let broker: RunningBroker;

beforeAll(async () => {
  server = await startAuthorizationServer({ accessTokenTtlSeconds: 600 });
  account = await loggedInAccount(server);
  broker = await startBroker(account.home);
});

afterAll(async () => {
  if (broker !== undefined) await stopBroker(broker);
  await account?.cleanup();
  await server?.stop();
});

const storedAccessToken = async () => String((await readSecretRecord(account.home)).accessToken);

describe("a thin client on the broker's unix socket", () => {
  it("baton serve - should listen on a 0600 socket in a 0700 directory under BATON_HOME by default", async () => {
    expect(broker.server).toBe(`unix:${join(account.home, "serve", "run", "baton.sock")}`);
    const socket = await stat(broker.server.slice("unix:".length));
    expect(socket.isSocket()).toBe(true);
    expect(socket.mode & 0o777).toBe(0o600);
    expect((await stat(dirname(broker.server.slice("unix:".length)))).mode & 0o777).toBe(0o700);
  });

  it("baton token REF - should print the broker's access token and nothing else, in an empty home", async () => {
    const result = await thin(["token", REF], { server: broker.server });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(`${await storedAccessToken()}\n`);
  });

  it("baton token PROVIDER - should name the broker's default account", async () => {
    const result = await thin(["token", "demo"], { server: broker.server });
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(await storedAccessToken());
  });

  it("baton token REF --json - should print the hand-out without a refresh token", async () => {
    const result = await thin(["token", REF, "--json"], { server: broker.server });
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(Object.keys(parsed).sort()).toEqual(
      ["access_token", "account", "expires_at", "expires_in", "scope", "token_type"].sort(),
    );
    expect(parsed.access_token).toBe(await storedAccessToken());
    expect(parsed.account).toBe(REF);
    expect(Number(parsed.expires_in)).toBeGreaterThan(500);
  });

  it("baton exec - should run the command with the broker's token in its environment", async () => {
    const result = await thin(["exec", REF, "--", "sh", "-c", 'printf %s "$BATON_ACCESS_TOKEN"'], {
      server: broker.server,
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(await storedAccessToken());
  });

  it("baton status --json - should show the broker's accounts", async () => {
    const result = await thin(["status", "--json"], { server: broker.server });
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as { accounts: ReadonlyArray<{ account: string; state: string }> };
    expect(parsed.accounts.map((row) => [row.account, row.state])).toEqual([[REF, "valid"]]);
  });

  it("baton kubectl-credential - should answer an ExecCredential with the broker's token", async () => {
    const result = await thin(["kubectl-credential", REF], {
      server: broker.server,
      env: { KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion: "client.authentication.k8s.io/v1", spec: {} }) },
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).status.token).toBe(await storedAccessToken());
  });

  it("baton git-credential get - should answer with the host the broker maps, and stay silent for others", async () => {
    const mapped = await runBaton(["host", "add", "git", "git.example", REF], { home: account.home });
    expect(mapped.code).toBe(0);
    const answer = await thin(["git-credential", "get"], {
      server: broker.server,
      input: "protocol=https\nhost=git.example\n\n",
    });
    expect(answer.code).toBe(0);
    expect(answer.stdout).toContain(`password=${await storedAccessToken()}\n`);
    expect(answer.stdout).toContain("username=oauth2\n");
    const unmapped = await thin(["git-credential", "get"], {
      server: broker.server,
      input: "protocol=https\nhost=elsewhere.example\n\n",
    });
    expect(unmapped).toMatchObject({ code: 0, stdout: "" });
  });

  it("docker-credential-baton get and list - should answer from the broker's host mappings", async () => {
    expect((await runBaton(["host", "add", "docker", "registry.example", REF], { home: account.home })).code).toBe(0);
    const home = await emptyHome();
    const env = { BATON_HOME: home, BATON_SERVER: broker.server, NO_COLOR: "1" };
    const got = await runWithInput(process.execPath, [DOCKER_HELPER, "get"], "https://registry.example\n", env);
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout)).toEqual({
      ServerURL: "https://registry.example",
      Username: "oauth2",
      Secret: await storedAccessToken(),
    });
    const unmapped = await runWithInput(process.execPath, [DOCKER_HELPER, "get"], "other.example\n", env);
    expect(unmapped).toMatchObject({ code: 1, stdout: "credentials not found in native keychain\n" });
    const listed = await runWithInput(process.execPath, [DOCKER_HELPER, "list"], "", env);
    expect(JSON.parse(listed.stdout)).toEqual({ "registry.example": "oauth2" });
    expect(await filesBelow(home)).toEqual([]);
  });

  it("baton login - should be refused with exit 2 saying it runs on the broker's host", async () => {
    const result = await thin(["login", REF], { server: broker.server });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("runs on the broker's host");
  });

  it("baton replay - should show every hand-out: client, generation and access-token fingerprint", async () => {
    const tokenForCi = await clientToken(account.home, "ci-runner");
    expect((await thin(["token", REF], { server: broker.server, token: tokenForCi })).code).toBe(0);
    expect((await thin(["token", REF], { server: broker.server })).code).toBe(0);
    const lent = await handOuts(account.home, REF);
    expect(lent.map((note) => note.client)).toContain("ci-runner");
    expect(lent.map((note) => note.client)).toContain("@local");
    const fingerprint = createHash("sha256")
      .update(await storedAccessToken())
      .digest("hex")
      .slice(0, 8);
    expect(lent.every((note) => note.generation === 1 && note.accessFp === fingerprint)).toBe(true);
    const text = await runBaton(["replay", REF], { home: account.home });
    expect(text.stdout).toMatch(/~ .* lent generation 1 \(access [0-9a-f]{8}, expires [^)]+\) to ci-runner\n/);
  });

  it("a thin client - should leave its home empty: no file, so no secret, written", async () => {
    const home = await emptyHome();
    for (const args of [["token", REF], ["token", REF, "--json"], ["status"], ["exec", REF, "--", "true"]]) {
      expect((await thin(args, { server: broker.server, home })).code).toBe(0);
    }
    expect(await filesBelow(home)).toEqual([]);
    expect(spawnSync("find", [home, "-mindepth", "1"], { encoding: "utf8" }).stdout).toBe("");
  });
});

describe("an embedded host on the broker (createBaton with server)", () => {
  it("createBaton({ server }) - should borrow tokens, show the broker's status, and refuse a forced refresh", async () => {
    const home = await emptyHome();
    const baton = await createBaton({ home, server: broker.server, prefetch: [REF] });
    try {
      expect(await baton.accessToken(REF)).toBe(await storedAccessToken());
      expect(await baton.accessToken("demo")).toBe(await storedAccessToken());
      expect((await baton.status()).map((row) => [row.account, row.state])).toEqual([[REF, "valid"]]);
      await expect(baton.refresh(REF)).rejects.toMatchObject({ _tag: "InvalidInput" });
    } finally {
      await baton.close();
    }
    expect(await filesBelow(home)).toEqual([]);
  });

  it("createBaton({ server }) - should reject with a retryable error when the broker is down", async () => {
    const baton = await createBaton({ home: await emptyHome(), server: "unix:/nonexistent/baton.sock" });
    try {
      await expect(baton.accessToken(REF)).rejects.toMatchObject({ _tag: "Retryable", reason: "network" });
    } finally {
      await baton.close();
    }
  });
});
