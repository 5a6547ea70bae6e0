/**
 * The wire formats baton speaks to other tools, each against a golden file (tokens replaced by placeholders) and,
 * where the tool is installed here, driven by the real client: `baton token --json`; git's credential helper through
 * the real `git credential fill/approve/reject` (erase marks a generation stale: the next fill refreshes it once,
 * however many erases came); kubectl's ExecCredential through the real `kubectl` against a fake API server on
 * 127.0.0.1 (https, with a certificate made at run time); docker's credential helper protocol (`docker-credential-baton`). Tokens come from the local
 * authorization server at run time.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { IncomingHttpHeaders } from "node:http";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BATON, tempHome } from "../support/baton-cli.ts";
import { cliSession, leaks, loginWithCli } from "../support/cli-session.ts";
import {
  batonWithInput,
  dockerHelper,
  gitHelperCommand,
  golden,
  redact,
  runWithInput,
} from "../support/helper-processes.ts";

let server: AuthorizationServer;
let session: ReturnType<typeof cliSession>;
let home: string;
let cleanup: () => Promise<void>;
const secrets = new Set<string>();

const token = async (): Promise<string> => {
  const result = await session.run(["token", "demo:you"]);
  expect(result.code, result.stderr).toBe(0);
  const value = result.stdout.trimEnd();
  secrets.add(value);
  return value;
};

beforeAll(async () => {
  server = await startAuthorizationServer({ accessTokenTtlSeconds: 600 });
  ({ home, cleanup } = await tempHome());
  session = cliSession(home);
  const add = ["provider", "add", "demo", "--issuer", server.issuer, "--client-id", server.clientId];
  expect((await session.run([...add, "--scope", server.scopes])).code).toBe(0);
  const login = await loginWithCli(home, "demo:you");
  expect(login.code, login.stderr).toBe(0);
});

afterAll(async () => {
  await server?.stop();
  await cleanup?.();
});

describe("baton token --json", () => {
  it("token --json - should print the token, its type, expiry, scope and account from one read (golden)", async () => {
    const before = Date.now();
    const result = await session.run(["token", "demo:you", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const parsed = JSON.parse(result.stdout) as Record<string, unknown>;
    const access = String(parsed.access_token);
    secrets.add(access);
    expect(access).toBe(await token());
    const expiresAt = Date.parse(String(parsed.expires_at));
    expect(String(parsed.expires_at)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(expiresAt).toBeGreaterThan(before);
    expect(Number(parsed.expires_in)).toBeGreaterThan(500);
    expect(Math.abs(expiresAt / 1000 - (before / 1000 + Number(parsed.expires_in)))).toBeLessThan(5);
    const normalized = redact(result.stdout, {
      [access]: "<ACCESS_TOKEN>",
      [String(parsed.expires_at)]: "<RFC3339>",
    }).replace(/"expires_in": \d+/, '"expires_in": <SECONDS>');
    expect(normalized).toBe(await golden("token.json.txt"));
  });
});

describe("git credential helper (real git)", () => {
  let gitHome: string;
  const git = (args: ReadonlyArray<string>, input: string) =>
    runWithInput("git", args, input, {
      BATON_HOME: home,
      BATON_STORAGE: "file",
      GIT_CONFIG_GLOBAL: join(gitHome, "gitconfig"),
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_TERMINAL_PROMPT: "0",
      GIT_ASKPASS: "",
      SSH_ASKPASS: "",
      HOME: gitHome,
    });
  const fill = (host: string) => git(["credential", "fill"], `protocol=https\nhost=${host}\n\n`);
  const passwordOf = (output: string) => /^password=(.*)$/m.exec(output)?.[1];

  beforeAll(async () => {
    gitHome = await mkdtemp(join(tmpdir(), "baton-git-"));
    const config = `[credential]\n\thelper = ${JSON.stringify(gitHelperCommand("")).slice(1, -1)}\n`;
    await writeFile(join(gitHome, "gitconfig"), config);
    expect((await session.run(["host", "add", "git", "git.example.test", "demo:you"])).code).toBe(0);
  });

  afterAll(async () => {
    await rm(gitHome, { recursive: true, force: true });
  });

  it("git credential fill - should get the account's token for a mapped host (golden)", async () => {
    const current = await token();
    const result = await fill("git.example.test");
    expect(result.code, result.stderr).toBe(0);
    expect(passwordOf(result.stdout)).toBe(current);
    // git >= 2.40 passes password_expiry_utc on; older gits drop it (the direct `get` golden below covers it).
    const passedOn = result.stdout.replace(/^password_expiry_utc=\d+\n/m, "");
    expect(redact(passedOn, { [current]: "<ACCESS_TOKEN>" })).toBe(await golden("git-credential-fill.txt"));
  });

  it("git credential fill - should get nothing from baton for an unmapped host (git then has no credentials)", async () => {
    const result = await fill("elsewhere.example.test");
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/terminal prompts disabled|could not read Username/);
  });

  it("git credential approve - should store nothing and change nothing", async () => {
    const current = await token();
    const before = server.counters();
    const input = `protocol=https\nhost=git.example.test\nusername=oauth2\npassword=${current}\n\n`;
    const result = await git(["credential", "approve"], input);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("");
    expect(passwordOf((await fill("git.example.test")).stdout)).toBe(current);
    expect(server.counters().tokenRequests).toBe(before.tokenRequests);
  });

  it("git credential reject - should never revoke, and make the next fill refresh that generation exactly once", async () => {
    const rejected = await token();
    const before = server.counters();
    const reject = `protocol=https\nhost=git.example.test\nusername=oauth2\npassword=${rejected}\n\n`;
    for (let i = 0; i < 2; i++) {
      const result = await git(["credential", "reject"], reject);
      expect(result.code, result.stderr).toBe(0);
    }
    expect(server.counters().tokenRequests).toBe(before.tokenRequests);
    // Two fills at once after two erases of one generation: one refresh, both get the new token.
    const fills = await Promise.all([fill("git.example.test"), fill("git.example.test")]);
    const passwords = fills.map((result) => passwordOf(result.stdout));
    for (const value of passwords) if (value !== undefined) secrets.add(value);
    expect(passwords[0]).toBeDefined();
    expect(passwords[0]).not.toBe(rejected);
    expect(passwords[1]).toBe(passwords[0]);
    const third = await fill("git.example.test");
    expect(passwordOf(third.stdout)).toBe(passwords[0]);
    const after = server.counters();
    expect(after.refreshGrants - before.refreshGrants).toBe(1);
    expect(after.reuseErrors).toBe(before.reuseErrors);
    expect(after.grantsRevoked).toBe(before.grantsRevoked);
  });

  it("git credential reject - should ignore a token that was already replaced", async () => {
    const current = await token();
    const before = server.counters();
    const stale = `protocol=https\nhost=git.example.test\nusername=oauth2\npassword=not-the-current-token\n\n`;
    expect((await git(["credential", "reject"], stale)).code).toBe(0);
    expect(passwordOf((await fill("git.example.test")).stdout)).toBe(current);
    expect(server.counters().tokenRequests).toBe(before.tokenRequests);
  });

  it("baton git-credential get - should answer username, password and password_expiry_utc (golden)", async () => {
    const current = await token();
    const result = await batonWithInput(home, ["git-credential", "get"], "protocol=https\nhost=git.example.test\n\n");
    expect(result.code, result.stderr).toBe(0);
    const expiry = Number(/^password_expiry_utc=(\d+)$/m.exec(result.stdout)?.[1]);
    const expiresAt = Date.parse(JSON.parse((await session.run(["token", "demo:you", "--json"])).stdout).expires_at);
    expect(expiry * 1000).toBeLessThan(expiresAt);
    expect(expiry * 1000).toBeGreaterThanOrEqual(expiresAt - 61_000);
    const normalized = redact(result.stdout, { [current]: "<ACCESS_TOKEN>", [String(expiry)]: "<UNIX_SECONDS>" });
    expect(normalized).toBe(await golden("git-credential-get.txt"));
  });

  it("baton git-credential get - should answer a bearer credential when git announces capability[]=authtype (golden)", async () => {
    const current = await token();
    const input = "capability[]=authtype\nprotocol=https\nhost=git.example.test\n\n";
    const result = await batonWithInput(home, ["git-credential", "get"], input);
    expect(result.code, result.stderr).toBe(0);
    const expiry = Number(/^password_expiry_utc=(\d+)$/m.exec(result.stdout)?.[1]);
    expect(expiry * 1000).toBeGreaterThan(Date.now());
    const normalized = redact(result.stdout, { [current]: "<ACCESS_TOKEN>", [String(expiry)]: "<UNIX_SECONDS>" });
    expect(normalized).toBe(await golden("git-credential-get-bearer.txt"));
  });

  it("baton git-credential get - should answer with --account for any https host, and never for plain http", async () => {
    const current = await token();
    const https = await batonWithInput(
      home,
      ["git-credential", "--account", "demo:you", "--username", "me", "get"],
      "protocol=https\nhost=other.test\n\n",
    );
    expect(https.code, https.stderr).toBe(0);
    expect(https.stdout).toContain(`username=me\npassword=${current}\n`);
    const http = await batonWithInput(
      home,
      ["git-credential", "--account", "demo:you", "get"],
      "protocol=http\nhost=other.test\n\n",
    );
    expect(http.code).toBe(0);
    expect(http.stdout).toBe("");
  });
});

describe("kubectl exec credential plugin", () => {
  const execInfo = (apiVersion: string) =>
    JSON.stringify({ apiVersion, kind: "ExecCredential", spec: { interactive: false } });

  it("kubectl-credential - should print a v1 ExecCredential with the token and an expiry before the token's (golden)", async () => {
    const current = await token();
    const expiresAt = Date.parse(JSON.parse((await session.run(["token", "demo:you", "--json"])).stdout).expires_at);
    const result = await session.run(["kubectl-credential", "demo:you"], {
      env: { KUBERNETES_EXEC_INFO: execInfo("client.authentication.k8s.io/v1") },
    });
    expect(result.code, result.stderr).toBe(0);
    const parsed = JSON.parse(result.stdout) as { status: { token: string; expirationTimestamp: string } };
    expect(parsed.status.token).toBe(current);
    const announced = Date.parse(parsed.status.expirationTimestamp);
    expect(announced).toBeLessThan(expiresAt);
    expect(announced).toBeGreaterThanOrEqual(expiresAt - 61_000);
    const normalized = redact(result.stdout, {
      [current]: "<ACCESS_TOKEN>",
      [parsed.status.expirationTimestamp]: "<RFC3339>",
    });
    expect(normalized).toBe(await golden("kubectl-exec-credential.json.txt"));
  });

  it("kubectl-credential - should refuse an unsupported apiVersion clearly, with exit 2 and nothing on stdout", async () => {
    const result = await session.run(["kubectl-credential", "demo:you"], {
      env: { KUBERNETES_EXEC_INFO: execInfo("client.authentication.k8s.io/v2alpha9") },
    });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain('apiVersion "client.authentication.k8s.io/v2alpha9" is not supported');
  });

  it("real kubectl - should send the plugin's token as its bearer token to the API server", async () => {
    const found = spawnSync(join(import.meta.dirname, "..", "..", "scripts", "clients", "ensure-kubectl.sh"), {
      encoding: "utf8",
    });
    expect(found.status, found.stderr).toBe(0);
    const kubectl = found.stdout.trim();
    const version = JSON.parse(
      spawnSync(kubectl, ["version", "--client", "-o", "json"], { encoding: "utf8" }).stdout,
    ) as { clientVersion: { minor: string } };
    const apiVersion =
      Number.parseInt(version.clientVersion.minor, 10) >= 22
        ? "client.authentication.k8s.io/v1"
        : "client.authentication.k8s.io/v1beta1";
    const dir = await mkdtemp(join(tmpdir(), "baton-kube-"));
    // kubectl runs exec plugins for https servers only: a certificate for 127.0.0.1, made now.
    const certificate = spawnSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"]
        .concat(["-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-subj", "/CN=127.0.0.1"])
        .concat(["-addext", "subjectAltName=IP:127.0.0.1"]),
      { encoding: "utf8" },
    );
    expect(certificate.status, certificate.stderr).toBe(0);
    const cert = await readFile(join(dir, "cert.pem"));
    const seen: Array<IncomingHttpHeaders> = [];
    const api: Server = createServer({ key: await readFile(join(dir, "key.pem")), cert }, (request, response) => {
      seen.push(request.headers);
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] }));
    });
    await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
    const port = (api.address() as { port: number }).port;
    try {
      const kubeconfig = {
        apiVersion: "v1",
        kind: "Config",
        clusters: [
          {
            name: "local",
            cluster: { server: `https://127.0.0.1:${port}`, "certificate-authority-data": cert.toString("base64") },
          },
        ],
        users: [
          {
            name: "baton",
            user: {
              exec: {
                apiVersion,
                command: process.execPath,
                args: [BATON, "kubectl-credential", "demo:you"],
                env: [
                  { name: "BATON_HOME", value: home },
                  { name: "BATON_STORAGE", value: "file" },
                ],
                interactiveMode: "Never",
                installHint: "install baton: see docs/integrations.md",
              },
            },
          },
        ],
        contexts: [{ name: "local", context: { cluster: "local", user: "baton" } }],
        "current-context": "local",
      };
      await writeFile(join(dir, "config"), JSON.stringify(kubeconfig));
      const current = await token();
      // Asynchronously: the fake API server answers from this process's event loop.
      const result = await runWithInput(kubectl, ["--kubeconfig", join(dir, "config"), "get", "--raw", "/api"], "", {
        HOME: dir,
      });
      expect(result.code, result.stderr).toBe(0);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.map((headers) => headers.authorization)).toEqual(seen.map(() => `Bearer ${current}`));
      expect(leaks([{ what: "kubectl", text: `${result.stdout}${result.stderr}` }], secrets)).toEqual([]);
    } finally {
      api.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("docker-credential-baton", () => {
  beforeAll(async () => {
    expect((await session.run(["host", "add", "docker", "registry.example.test:5000", "demo:you"])).code).toBe(0);
  });

  it("get - should print ServerURL, Username and the token as Secret for a mapped registry (golden)", async () => {
    const current = await token();
    const result = await dockerHelper(home, "get", "https://registry.example.test:5000\n");
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).Secret).toBe(current);
    expect(redact(result.stdout, { [current]: "<ACCESS_TOKEN>" })).toBe(await golden("docker-credential-get.json.txt"));
  });

  it("get - should exit 1 with exactly docker's not-found message for an unmapped registry", async () => {
    const result = await dockerHelper(home, "get", "https://index.docker.io/v1/\n");
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("credentials not found in native keychain\n");
  });

  it("list - should print every mapped registry with its user name (golden)", async () => {
    const result = await dockerHelper(home, "list");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(await golden("docker-credential-list.json.txt"));
  });

  it("store and erase - should read their input, answer nothing and keep the credentials", async () => {
    const current = await token();
    const store = await dockerHelper(
      home,
      "store",
      JSON.stringify({ ServerURL: "registry.example.test:5000", Username: "x", Secret: "other" }),
    );
    const erase = await dockerHelper(home, "erase", "registry.example.test:5000\n");
    expect([store.code, store.stdout, erase.code, erase.stdout]).toEqual([0, "", 0, ""]);
    expect(JSON.parse((await dockerHelper(home, "get", "registry.example.test:5000")).stdout).Secret).toBe(current);
  });
});

describe("secrets", () => {
  it("should appear in no output but the token's own (token, token --json, helper answers)", () => {
    const allowed = new Set(["token", "git-credential", "kubectl-credential"]);
    const outputs = session.results.flatMap((r) => [
      { what: `baton ${r.args.join(" ")} (stderr)`, text: r.stderr },
      ...(allowed.has(r.args[0] ?? "") ? [] : [{ what: `baton ${r.args.join(" ")} (stdout)`, text: r.stdout }]),
    ]);
    expect(secrets.size).toBeGreaterThan(1);
    expect(leaks(outputs, secrets)).toEqual([]);
  });
});
