/**
 * `baton doctor` through the real CLI on damaged homes: a process killed after the server rotated (its lock and an
 * in-doubt claim left behind), a torn event-log tail, a loose secret record, a planted symlink, quarantined files and
 * a crashed session; an issuer that cannot be reached; a malformed config.json; a home this user cannot write; an
 * account whose provider was removed; a default account that does not exist; credentials without history; a secret
 * record moved to quarantine; an event log that cannot be read. Each problem is one warn or fail line; the exit code
 * is 2 when a file needs fixing, 4 when only retrying later can help, 0 otherwise.
 */
import { spawnSync } from "node:child_process";
import { access, appendFile, chmod, constants, mkdir, readFile, rename, symlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { FileEventStore, FileSecretStore } from "@baton/adapters";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBaton, tempHome } from "../support/baton-cli.ts";
import { cliSession, deadPid, loginWithCli, writeOrphanSession } from "../support/cli-session.ts";

interface DoctorJson {
  readonly home: string;
  readonly checks: ReadonlyArray<{
    check: string;
    subject: string | null;
    status: string;
    message: string;
    code?: number;
  }>;
  readonly summary: { ok: number; warn: number; fail: number };
  readonly exitCode: number;
}

let server: AuthorizationServer;
const cleanups: Array<() => Promise<void>> = [];

const loggedInHome = async (on: AuthorizationServer = server) => {
  const { home, cleanup } = await tempHome();
  cleanups.push(cleanup);
  const session = cliSession(home);
  const args = ["provider", "add", "demo", "--issuer", on.issuer, "--client-id", on.clientId, "--scope", on.scopes];
  expect((await session.run(args)).code).toBe(0);
  expect((await loginWithCli(home, "demo:you")).code).toBe(0);
  return session;
};

/** `baton refresh` killed once the server has answered and before the answer is stored (I9). */
const killAfterRotation = async (home: string) => {
  const { child, done } = startBaton(["refresh", "demo:you"], {
    home,
    env: { BATON_TEST_HOOK: "answered:hang" },
    onStderr: (text, proc) => {
      if (text.includes("BATON_HOOK answered")) proc.kill("SIGKILL");
    },
  });
  const result = await done;
  expect(result.signal, result.stderr).toBe("SIGKILL");
  return child.pid ?? 0;
};

beforeAll(async () => {
  server = await startAuthorizationServer({ accessTokenTtlSeconds: 600 });
});

afterAll(async () => {
  await server?.stop();
  for (const cleanup of cleanups) await cleanup();
});

describe("baton doctor", () => {
  it("given a crash after rotation, a torn log, a loose secret, a symlink, quarantine and an orphan, reports each and exits 2", async () => {
    const { home, run } = await loggedInHome();
    const pid = await killAfterRotation(home);
    const account = join(home, "accounts", "demo", "you");
    await appendFile(join(account, "events.log"), '0123abcd {"v":1,"seq":');
    await chmod(join(account, "secret.json"), 0o644);
    await symlink("/etc/passwd", join(home, "accounts", "demo", "planted"));
    await mkdir(join(home, "quarantine"), { mode: 0o700 });
    await writeFile(join(home, "quarantine", "2026-01-01-demo-you-secret.json-abc"), "{", { mode: 0o600 });
    const orphan = await writeOrphanSession(home, { provider: "demo", account: "you" });

    const text = await run(["doctor"]);
    expect(text.code, text.stdout).toBe(2);
    const lines = text.stdout.split("\n");
    const expectLine = (pattern: RegExp) =>
      expect(
        lines.some((line) => pattern.test(line)),
        pattern.source,
      ).toBe(true);
    expectLine(
      /^fail {2}accounts\/demo\/you\/secret\.json: has mode 644; expected 600: others could read the credentials$/,
    );
    expectLine(/^fail {2}accounts\/demo\/planted: is a symbolic link; baton refuses to follow it: remove it$/);
    expectLine(new RegExp(`^warn {2}demo:you: refresh\\.lock is held by pid ${pid} on \\S+, which is gone`));
    expectLine(
      new RegExp(
        `^warn {2}demo:you: generation 1 was sent by pid ${pid} on \\S+, which died before storing the answer`,
      ),
    );
    expectLine(/^warn {2}demo:you: events\.log has a torn last record; the next write truncates it$/);
    expectLine(/^warn {2}quarantine\/: 1 file\(s\) moved aside as corrupt \(2026-01-01-demo-you-secret\.json-abc\)/);
    expectLine(/^warn {2}1 orphaned session\(s\); `baton clean --yes` removes them$/);
    expect(text.stdout).toMatch(/\d+ ok, 5 warning\(s\), 2 failure\(s\)\n$/);
    expect(orphan).toBeGreaterThan(0);

    const json = JSON.parse((await run(["doctor", "--json"])).stdout) as DoctorJson;
    expect(json.home).toBe(home);
    expect(json.exitCode).toBe(2);
    expect(json.checks.filter((c) => c.status === "fail").map((c) => [c.check, c.subject, c.code])).toContainEqual([
      "permissions",
      "accounts/demo/planted",
      2,
    ]);
    expect(json.checks.filter((c) => c.status === "warn").map((c) => c.check)).toEqual(
      expect.arrayContaining(["lock", "in-doubt", "events", "quarantine", "sessions"]),
    );
  });

  it("given a corrupt secret record, fails without moving it (doctor only reads) and exits 2", async () => {
    const { home, run } = await loggedInHome();
    const secret = join(home, "accounts", "demo", "you", "secret.json");
    await writeFile(secret, "{ not json", { mode: 0o600 });
    const result = await run(["doctor"]);
    expect(result.code, result.stdout).toBe(2);
    expect(result.stdout).toContain(
      "fail  demo:you: the secret record does not decode; its next use moves it to quarantine/",
    );
    expect(result.stdout).toMatch(/^ok {4}demo:you: valid, generation 1, storage unreadable, 1 events$/m);
    expect(await readFile(secret, "utf8")).toBe("{ not json");
  });

  it("given an issuer that cannot be reached, fails that check only and exits 4", async () => {
    const gone = await startAuthorizationServer();
    const { run } = await loggedInHome(gone);
    await gone.stop();
    const result = await run(["doctor", "--json"]);
    expect(result.code).toBe(4);
    const json = JSON.parse(result.stdout) as DoctorJson;
    expect(json.checks.filter((c) => c.status === "fail")).toEqual([
      expect.objectContaining({
        check: "issuer",
        subject: "demo",
        code: 4,
        message: expect.stringContaining("is unreachable"),
      }),
    ]);
  });

  it("given a malformed config.json, exits 2 and names the file and the field", async () => {
    const { home, cleanup } = await tempHome();
    cleanups.push(cleanup);
    await writeFile(join(home, "config.json"), '{"version":1,"providers":{"demo":{"issuer":"nope"}}}', { mode: 0o600 });
    const result = await cliSession(home).run(["doctor"]);
    expect(result.code).toBe(2);
    expect(`${result.stdout}${result.stderr}`).toContain("config.json: providers.demo.issuer: expected a URL");
    expect(`${result.stdout}${result.stderr}`).toContain("providers.demo.clientId: is required");
  });
});

const doctorJson = async (session: ReturnType<typeof cliSession>) => {
  const result = await session.run(["doctor", "--json"]);
  return { result, json: JSON.parse(result.stdout) as DoctorJson };
};

/** The checks of `json` that are not ok, as [check, subject, status]. */
const problems = (json: DoctorJson) =>
  json.checks.filter((c) => c.status !== "ok").map((c) => [c.check, c.subject, c.status] as const);

/**
 * Makes `dir` unwritable for this process: mode 0500, or — for root, whom modes do not stop — the immutable
 * attribute. Returns the undo, or `undefined` when neither works here.
 */
const makeUnwritable = async (dir: string): Promise<(() => Promise<void>) | undefined> => {
  const writable = () =>
    access(dir, constants.W_OK).then(
      () => true,
      () => false,
    );
  await chmod(dir, 0o500);
  if (!(await writable())) return () => chmod(dir, 0o700);
  await chmod(dir, 0o700);
  if (spawnSync("chattr", ["+i", dir]).status !== 0 || (await writable())) return undefined;
  return async () => {
    spawnSync("chattr", ["-i", dir]);
  };
};

describe("baton doctor on a home that looks fine to a quick look", () => {
  it("given a home this user cannot write, fails the home check and exits 2", async (context) => {
    const session = await loggedInHome();
    const undo = await makeUnwritable(session.home);
    if (undo === undefined) return context.skip("cannot make a directory unwritable here");
    try {
      const { result, json } = await doctorJson(session);
      expect(result.code).toBe(2);
      expect(json.checks).toContainEqual(
        expect.objectContaining({
          check: "home",
          status: "fail",
          code: 2,
          message: expect.stringContaining("is not writable"),
        }),
      );
    } finally {
      await undo();
    }
  });

  it("given an account whose provider was removed, warns that it cannot be refreshed", async () => {
    const session = await loggedInHome();
    expect((await session.run(["provider", "remove", "demo"])).code).toBe(0);
    const { json } = await doctorJson(session);
    expect(problems(json)).toContainEqual(["provider", "demo:you", "warn"]);
    const line = json.checks.find((c) => c.check === "provider");
    expect(line?.message).toContain("provider demo is not registered");
  });

  it("given a default account that does not exist, warns about the dangling default", async () => {
    const session = await loggedInHome();
    const path = join(session.home, "config.json");
    const config = JSON.parse(await readFile(path, "utf8")) as { defaults: Record<string, string> };
    await writeFile(path, JSON.stringify({ ...config, defaults: { demo: "ghost" } }), { mode: 0o600 });
    const { result, json } = await doctorJson(session);
    expect(result.code).toBe(0);
    expect(problems(json)).toEqual([["defaults", "demo", "warn"]]);
    expect(json.checks.find((c) => c.check === "defaults")?.message).toContain("demo:ghost");
  });

  it("given a secret record without history, warns that the account has no events", async () => {
    const session = await loggedInHome();
    const now = Date.now();
    await Effect.runPromise(
      FileSecretStore.make({ home: session.home }).write(
        { provider: "demo", account: "manual" },
        {
          version: 1,
          account: "demo:manual",
          generation: 1,
          accessToken: `manual-access-${now}`,
          tokenType: "Bearer",
          expiresAt: now + 600_000,
          obtainedAt: now,
          issuer: server.issuer,
          clientId: server.clientId,
        },
        0,
      ),
    );
    const { result, json } = await doctorJson(session);
    expect(result.code).toBe(0);
    expect(problems(json)).toEqual([["events", "demo:manual", "warn"]]);
    expect(json.checks.find((c) => c.check === "events")?.message).toContain("no history");
  });

  it("given a secret record moved to quarantine, fails the account, and status says unauthenticated with a note", async () => {
    const session = await loggedInHome();
    await writeFile(join(session.home, "accounts", "demo", "you", "secret.json"), "{ torn", { mode: 0o600 });
    expect((await session.run(["token", "demo:you"])).code).not.toBe(0);
    const { result, json } = await doctorJson(session);
    expect(result.code).toBe(2);
    expect(problems(json)).toContainEqual(["secret", "demo:you", "fail"]);
    const line = json.checks.find((c) => c.check === "secret");
    expect(line?.message).toContain("quarantine/");
    expect(line?.message).toContain("baton login demo:you");
    const status = JSON.parse((await session.run(["status", "demo:you", "--json"])).stdout) as {
      accounts: Array<{ state: string; storage: string; expiresAt: number | null; note: string | null }>;
    };
    expect(status.accounts[0]).toMatchObject({ state: "unauthenticated", storage: "none", expiresAt: null });
    expect(status.accounts[0]?.note).toContain("no credentials");
  });

  it("given a record written by a newer baton and a config.lock of a dead process, warns about both", async () => {
    const session = await loggedInHome();
    const json = JSON.stringify({ v: 2, seq: 99, at: Date.now(), host: "h", pid: 1, type: "future.event" });
    const line = `${FileEventStore.checksum(Buffer.from(json))} ${json}\n`;
    await appendFile(join(session.home, "accounts", "demo", "you", "events.log"), line);
    const lock = { host: hostname(), pid: deadPid(), nonce: "0123456789abcdef" };
    await writeFile(join(session.home, "config.lock"), JSON.stringify(lock), { mode: 0o600 });
    const { result, json: report } = await doctorJson(session);
    expect(result.code).toBe(0);
    expect(problems(report)).toEqual([
      ["lock", "config.lock", "warn"],
      ["events", "demo:you", "warn"],
    ]);
    expect(report.checks.find((c) => c.check === "events")?.message).toContain("newer baton (event schema version 2)");
    expect(report.checks.find((c) => c.check === "lock")?.message).toContain(`pid ${lock.pid}`);
  });

  it("given an event log that cannot be read, --json still prints JSON with a failing store check", async () => {
    const session = await loggedInHome();
    const log = join(session.home, "accounts", "demo", "you", "events.log");
    await rename(log, `${log}.moved`);
    await mkdir(log, { mode: 0o700 });
    const { result, json } = await doctorJson(session);
    expect(result.code).toBe(2);
    expect(json.exitCode).toBe(2);
    expect(json.checks).toContainEqual(
      expect.objectContaining({ check: "store", subject: "demo:you", status: "fail", code: 2 }),
    );
    expect(json.checks.find((c) => c.check === "sessions")).toBeDefined();
  });
});
