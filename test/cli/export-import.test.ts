/**
 * `baton export` and `baton import` through the real CLI: the encrypted file (0600, O_EXCL, --force, stdout), its
 * round trip into another BATON_HOME (by file and by stdin), a wrong passphrase or a changed byte (exit 2, nothing
 * written), `--plaintext` token JSON (validated field by field, nothing written on error), an export for another
 * issuer refused — and no token in any output but `baton token`'s stdout, including the tokens learnt by decrypting
 * the export.
 */
import { chmod, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Envelope, unseal } from "../../packages/cli/src/export-format.ts";
import { tempHome } from "../support/baton-cli.ts";
import { cliSession, leaks, loginWithCli, runBatonWithInput } from "../support/cli-session.ts";

const PASSPHRASE = "correct horse battery staple";
const WITH_PASSPHRASE = { env: { BATON_PASSPHRASE: PASSPHRASE } };

let server: AuthorizationServer;
let other: AuthorizationServer;
const homes: Array<() => Promise<void>> = [];
const sessions: Array<ReturnType<typeof cliSession>> = [];
const secrets = new Set<string>();
let source: ReturnType<typeof cliSession>;
let exported: string;

/** A fresh home with provider `demo` registered against `issuer` (default: the main server). */
const freshHome = async (on: AuthorizationServer = server) => {
  const { home, cleanup } = await tempHome();
  homes.push(cleanup);
  const session = cliSession(home);
  sessions.push(session);
  const args = ["provider", "add", "demo", "--issuer", on.issuer, "--client-id", on.clientId, "--scope", on.scopes];
  expect((await session.run(args)).code).toBe(0);
  return session;
};

const accountsIn = async (session: ReturnType<typeof cliSession>) =>
  (JSON.parse((await session.run(["status", "--json"])).stdout) as { accounts: Array<{ account: string }> }).accounts;

beforeAll(async () => {
  [server, other] = await Promise.all([
    startAuthorizationServer({ accessTokenTtlSeconds: 600 }),
    startAuthorizationServer({ accessTokenTtlSeconds: 600 }),
  ]);
  source = await freshHome();
  const login = await loginWithCli(source.home, "demo:you");
  expect(login.code, login.stderr).toBe(0);
  exported = join(source.home, "..", `${source.home.split("/").at(-1)}-you.baton`);
  homes.push(() => rm(exported, { force: true }));
});

afterAll(async () => {
  await Promise.all([server?.stop(), other?.stop()]);
  for (const cleanup of homes) await cleanup();
});

describe("baton export", () => {
  it("writes a 0600 versioned envelope that decrypts to the account's current tokens", async () => {
    const token = (await source.run(["token", "demo:you"])).stdout.trimEnd();
    secrets.add(token);
    const result = await source.run(["export", "demo:you", "--out", exported], WITH_PASSPHRASE);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/exported demo:you \(generation 1, access [0-9a-f]{8}, refresh [0-9a-f]{8}, expires/);
    expect(result.stderr).toContain("shares ONE token family");
    expect(result.stderr).toContain("--move");
    expect((await stat(exported)).mode & 0o777).toBe(0o600);
    const envelope = JSON.parse(await readFile(exported, "utf8")) as Envelope;
    expect(envelope).toMatchObject({ format: "baton-export", version: 1, cipher: "aes-256-gcm", account: "demo:you" });
    expect(envelope.kdf).toMatchObject({ name: "scrypt", N: 2 ** 17, r: 8, p: 1, keyLength: 32 });
    const payload = await unseal(envelope, PASSPHRASE);
    expect(payload?.access_token).toBe(token);
    expect(payload?.issuer).toBe(server.issuer);
    if (payload?.refresh_token !== undefined) secrets.add(payload.refresh_token);
    expect(secrets.size).toBe(2);
    expect(await unseal(envelope, "not the passphrase")).toBeUndefined();
  });

  it("refuses to overwrite an existing file unless --force", async () => {
    const before = await readFile(exported, "utf8");
    const refused = await source.run(["export", "demo:you", "--out", exported], WITH_PASSPHRASE);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${exported} already exists; pass --force to replace it`);
    expect(await readFile(exported, "utf8")).toBe(before);
    const forced = await source.run(["export", "demo:you", "--out", exported, "--force"], WITH_PASSPHRASE);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await readFile(exported, "utf8")).not.toBe(before);
    expect((await stat(exported)).mode & 0o777).toBe(0o600);
  });

  it("without BATON_PASSPHRASE or a terminal refuses with exit 2 and writes nothing", async () => {
    const target = `${exported}.none`;
    const result = await source.run(["export", "demo:you", "--out", target]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("needs a passphrase: set BATON_PASSPHRASE, or run it on a terminal");
    await expect(stat(target)).rejects.toThrow();
  });

  it("without --out writes the envelope to stdout and warns on stderr", async () => {
    const result = await source.run(["export", "demo"], WITH_PASSPHRASE);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("warning: writing the encrypted export to stdout");
    expect(JSON.parse(result.stdout)).toMatchObject({ format: "baton-export", account: "demo:you" });
  });

  it("rejects --force without --out as a usage error", async () => {
    const result = await source.run(["export", "demo:you", "--force"], WITH_PASSPHRASE);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--force only makes sense with --out FILE");
  });
});

describe("baton import", () => {
  it("stores the export in another home, where baton token prints the same access token", async () => {
    const target = await freshHome();
    const result = await target.run(["import", "demo:you", exported], WITH_PASSPHRASE);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(
      /imported demo:you: generation 1, access [0-9a-f]{8}, refresh [0-9a-f]{8}, expires in/,
    );
    const token = await target.run(["token", "demo"]);
    expect(secrets.has(token.stdout.trimEnd())).toBe(true);
    const replay = await target.run(["replay", "demo:you"]);
    expect(replay.stdout).toContain("stored generation 1 (import)");
  });

  it("reads the export from stdin and may store it under another account name", async () => {
    const target = await freshHome();
    const result = await runBatonWithInput(["import", "demo:copy", "-"], await readFile(exported, "utf8"), {
      home: target.home,
      ...WITH_PASSPHRASE,
    });
    target.results.push(result);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("importing the export of demo:you as demo:copy");
    expect((await accountsIn(target)).map((a) => a.account)).toEqual(["demo:copy"]);
  });

  it("given a wrong passphrase or a changed header, exits 2 and writes nothing", async () => {
    const target = await freshHome();
    const wrong = await target.run(["import", "demo:you", exported], { env: { BATON_PASSPHRASE: "guess" } });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`${exported}: wrong passphrase or damaged file`);
    const tampered = `${exported}.tampered`;
    homes.push(() => rm(tampered, { force: true }));
    const envelope = JSON.parse(await readFile(exported, "utf8")) as Envelope;
    await writeFile(tampered, JSON.stringify({ ...envelope, account: "demo:other" }), { mode: 0o600 });
    const changed = await target.run(["import", "demo:other", tampered], WITH_PASSPHRASE);
    expect(changed.code).toBe(2);
    expect(changed.stderr).toContain("wrong passphrase or damaged file");
    expect(await accountsIn(target)).toEqual([]);
  });

  it("refuses an export whose tokens belong to another issuer (exit 2)", async () => {
    const target = await freshHome(other);
    const result = await target.run(["import", "demo:you", exported], WITH_PASSPHRASE);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("baton sends tokens only to their issuer");
    expect(await accountsIn(target)).toEqual([]);
  });

  it("given a token JSON with --plaintext, stores it and warns about a file readable by others", async () => {
    const target = await freshHome();
    const file = join(target.home, "..", `${target.home.split("/").at(-1)}-token.json`);
    homes.push(() => rm(file, { force: true }));
    const tokens = { access_token: `plain-access-${Date.now()}`, refresh_token: `plain-refresh-${Date.now()}` };
    for (const value of Object.values(tokens)) secrets.add(value);
    await writeFile(file, JSON.stringify({ ...tokens, expires_in: 3600, token_type: "Bearer", id_token: "x.y.z" }));
    await chmod(file, 0o644);
    const result = await target.run(["import", "demo:ci", file, "--plaintext"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`warning: ${file} is readable by others (mode 644)`);
    expect(result.stderr).toContain("ignoring field(s) baton does not store: id_token");
    expect((await target.run(["token", "demo:ci"])).stdout).toBe(`${tokens.access_token}\n`);
  });

  it.each([
    [{ refresh_token: "r-1234567890", expires_in: 60 }, "access_token: is required"],
    [{ access_token: 42, expires_in: 60 }, "access_token: expected a non-empty string"],
    [{ access_token: "a-1234567890" }, "expires_at or expires_in: one of them is required"],
    [{ access_token: "a-1234567890", expires_at: 1_790_000_000 }, "expires_at: expected milliseconds since the epoch"],
    [{ access_token: "a-1234567890", expires_in: -5 }, "expires_in: expected seconds (a positive number)"],
    [{ access_token: "a-1234567890", expires_in: 60, refresh_token: "" }, "refresh_token: expected a non-empty string"],
  ])("given the malformed token JSON %j, exits 2 naming the field and writes nothing", async (json, message) => {
    const target = await freshHome();
    const result = await runBatonWithInput(["import", "demo:ci", "--plaintext"], JSON.stringify(json), {
      home: target.home,
    });
    target.results.push(result);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`stdin: ${message}`);
    expect(await accountsIn(target)).toEqual([]);
  });

  const unique = (label: string) => `${label}${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
  const now = Date.now();
  const TEN_YEARS_S = 10 * 365 * 24 * 60 * 60;
  it.each([
    ["a NUL byte in access_token", { access_token: unique("nul\u0000"), expires_in: 60 }, "access_token: "],
    [
      "a newline in refresh_token",
      { access_token: "a-1234567890", refresh_token: unique("nl\n"), expires_in: 60 },
      "refresh_token: ",
    ],
    ["a space in access_token", { access_token: unique("sp "), expires_in: 60 }, "access_token: "],
    ["non-ASCII in access_token", { access_token: unique("é"), expires_in: 60 }, "access_token: "],
    ["expires_in 1e300", { access_token: "a-1234567890", expires_in: 1e300 }, "expires_in: "],
    ["expires_in beyond ten years", { access_token: "a-1234567890", expires_in: TEN_YEARS_S + 1 }, "expires_in: "],
    ["expires_at 1e300", { access_token: "a-1234567890", expires_at: 1e300 }, "expires_at: "],
    [
      "expires_at beyond ten years",
      { access_token: "a-1234567890", expires_at: now + (TEN_YEARS_S + 86_400) * 1000 },
      "expires_at: ",
    ],
    ["a DPoP token_type", { access_token: "a-1234567890", expires_in: 60, token_type: "DPoP" }, "token_type: "],
  ])(
    "given a token JSON with %s (refused from a server too), exits 2 naming the field and writes nothing",
    async (_, json, field) => {
      const target = await freshHome();
      const tokens = [json.access_token, "refresh_token" in json ? json.refresh_token : undefined];
      const result = await runBatonWithInput(["import", "demo:ci", "--plaintext"], JSON.stringify(json), {
        home: target.home,
      });
      target.results.push(result);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain(`stdin: ${field}`);
      for (const value of tokens) {
        if (value !== undefined && value.length > 12) {
          secrets.add(value);
          expect(result.stderr).not.toContain(value.slice(-10));
        }
      }
      expect(await accountsIn(target)).toEqual([]);
      await expect(stat(join(target.home, "accounts", "demo", "ci"))).rejects.toThrow();
    },
  );

  it("accepts a lower-case bearer token_type and an expiry at the edge of the bounds", async () => {
    const target = await freshHome();
    const json = { access_token: unique("edge-"), token_type: "bearer", expires_in: 10 * 365 * 24 * 60 * 60 };
    secrets.add(json.access_token);
    const result = await runBatonWithInput(["import", "demo:ci", "--plaintext"], JSON.stringify(json), {
      home: target.home,
    });
    target.results.push(result);
    expect(result.code, result.stderr).toBe(0);
    expect((await target.run(["token", "demo:ci"])).stdout).toBe(`${json.access_token}\n`);
  });

  it("tells an encrypted export from a token JSON and says which flag fits", async () => {
    const target = await freshHome();
    const plaintextFlag = await target.run(["import", "demo:you", exported, "--plaintext"]);
    expect(plaintextFlag.code).toBe(2);
    expect(plaintextFlag.stderr).toContain("is an encrypted baton export; import it without --plaintext");
    const notJson = await runBatonWithInput(["import", "demo:you"], "{ nope", { home: target.home });
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain("stdin is not valid JSON (at line 1, column 3)");
    const tokenJson = await runBatonWithInput(["import", "demo:you"], '{"access_token":"x"}', { home: target.home });
    expect(tokenJson.code).toBe(2);
    expect(tokenJson.stderr).toContain(
      'is not a baton export (format "baton-export"); for a token JSON use --plaintext',
    );
    target.results.push(notJson, tokenJson);
  });

  it("for a provider that is not registered exits 5 before reading the file", async () => {
    const target = await freshHome();
    const result = await target.run(["import", "nope:you", "/nonexistent"]);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('no provider named "nope"');
  });

  it("no output but baton token's stdout ever held a token, including those inside the export", () => {
    const outputs = sessions.flatMap((s) => s.outputs());
    expect(leaks(outputs, secrets)).toEqual([]);
  });
});
