/**
 * `baton doctor` through the real CLI on damaged homes: a process killed after the server rotated (its lock and an
 * in-doubt claim left behind), a torn event-log tail, a loose secret record, a planted symlink, quarantined files and
 * a crashed session; an issuer that cannot be reached; a malformed config.json. Each problem is one warn or fail
 * line; the exit code is 2 when a file needs fixing, 4 when only retrying later can help, 0 otherwise.
 */
import { appendFile, chmod, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBaton, tempHome } from "../support/baton-cli.ts";
import { cliSession, loginWithCli, writeOrphanSession } from "../support/cli-session.ts";

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
