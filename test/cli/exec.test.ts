/**
 * `baton exec` as a real process tree (baton, and the command it runs): the command's environment holds the token
 * and none of baton's own secrets, signals sent to baton reach the command, baton exits with the command's status
 * (128 + N for a command killed by signal N), and an error while starting the command never quotes the token (I8).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { FileSecretStore } from "@baton/adapters";
import type { Credentials } from "@baton/core";
import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BATON, tempHome } from "../support/baton-cli.ts";

const REF = { provider: "demo", account: "exec" };
const TOKEN = `exec-access-${process.pid}-${Date.now().toString(36)}`;

let home: string;
let cleanup: () => Promise<void>;

/** Stores `accessToken` as the account's current credentials, valid for an hour (no server needed). */
const storeToken = async (accessToken: string, account = REF) => {
  const now = Date.now();
  const credentials: Credentials = {
    version: 1,
    account: `${account.provider}:${account.account}`,
    generation: 1,
    accessToken,
    tokenType: "Bearer",
    expiresAt: now + 3_600_000,
    obtainedAt: now,
    issuer: "http://127.0.0.1:9",
    clientId: "exec-test",
  };
  await Effect.runPromise(FileSecretStore.make({ home }).write(account, credentials, 0));
};

interface Running {
  readonly child: ChildProcess;
  /** Resolves once the command has printed `text` on its stdout (which it shares with baton). */
  readonly printed: (text: string) => Promise<void>;
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** `baton exec demo:exec -- node -e SCRIPT`, with `env` added to baton's environment. */
const execNode = (script: string, env: Readonly<Record<string, string>> = {}, ref = "demo:exec"): Running => {
  const child = spawn(process.execPath, [BATON, "exec", ref, "--", process.execPath, "-e", script], {
    env: { ...process.env, BATON_HOME: home, BATON_STORAGE: "file", NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
    for (const waiter of waiters.filter((w) => stdout.includes(w.text))) waiter.resolve();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve) =>
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      }),
  );
  const printed = (text: string) =>
    new Promise<void>((resolve, reject) => {
      if (stdout.includes(text)) return resolve();
      waiters.push({ text, resolve });
      done.then((result) => reject(new Error(`baton exited before "${text}": ${result.stderr}`)));
    });
  return { child, printed, done };
};

/** How long a test command waits for a signal before it gives up (exit 99), so that none outlives a failed test. */
const LINGER_MS = 15_000;

/** A command that reports each of `signals` it receives on stdout and exits 0 after the first. */
const trapping = (signals: ReadonlyArray<string>) =>
  `for (const s of ${JSON.stringify(signals)}) process.on(s, () => { process.stdout.write("got " + s + "\\n"); process.exit(0); });` +
  `process.stdout.write("ready\\n"); setTimeout(() => process.exit(99), ${LINGER_MS});`;

/** A command that installs no handler: the default action of a signal kills it. */
const UNTRAPPED = `process.stdout.write("ready\\n"); setTimeout(() => process.exit(99), ${LINGER_MS});`;

beforeAll(async () => {
  ({ home, cleanup } = await tempHome());
  await storeToken(TOKEN);
});

afterAll(async () => {
  await cleanup?.();
});

describe("baton exec", () => {
  it("given baton's own secrets in its environment, should pass the token and none of them to the command", async () => {
    const names = ["BATON_ACCESS_TOKEN", "BATON_PASSPHRASE", "BATON_STORE_KEY", "BATON_SERVER_TOKEN", "BATON_HOME"];
    const script = `process.stdout.write(JSON.stringify(Object.fromEntries(${JSON.stringify(names)}.map((n) => [n, process.env[n] ?? null]))))`;
    const run = execNode(script, {
      BATON_PASSPHRASE: "passphrase-of-the-user",
      BATON_STORE_KEY: "store-key-of-the-user",
      BATON_SERVER_TOKEN: "server-token-of-the-user",
    });
    const result = await run.done;
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      BATON_ACCESS_TOKEN: TOKEN,
      BATON_PASSPHRASE: null,
      BATON_STORE_KEY: null,
      BATON_SERVER_TOKEN: null,
      BATON_HOME: home,
    });
  });

  it.each(["SIGTERM", "SIGINT", "SIGHUP"] as const)(
    "given %s sent to baton, should forward it to the command and exit with the command's status",
    async (signal) => {
      const run = execNode(trapping([signal]));
      await run.printed("ready\n");
      run.child.kill(signal);
      const result = await run.done;
      expect(result.stdout).toContain(`got ${signal}\n`);
      expect(result.signal).toBeNull();
      expect(result.code, result.stderr).toBe(0);
    },
  );

  it.each([
    ["SIGTERM", 143],
    ["SIGINT", 130],
    ["SIGHUP", 129],
  ] as const)(
    "given %s sent to baton and a command that does not catch it, should exit %i (128 + the signal number)",
    async (signal, code) => {
      const run = execNode(UNTRAPPED);
      await run.printed("ready\n");
      run.child.kill(signal);
      const result = await run.done;
      expect(result.signal).toBeNull();
      expect(result.code, result.stderr).toBe(code);
    },
  );

  it("given a command killed by SIGKILL from elsewhere, should exit 137", async () => {
    const run = execNode(
      `process.stdout.write("ready\\n"); setTimeout(() => process.kill(process.pid, "SIGKILL"), 10);`,
    );
    const result = await run.done;
    expect(result.code, result.stderr).toBe(137);
  });

  it("given a stored token that cannot go into an environment variable, should refuse without quoting any of it", async () => {
    const secretPart = `nul-token-${Date.now().toString(36)}`;
    const account = { provider: "demo", account: "nul" };
    await storeToken(`x\u0000${secretPart}`, account);
    const result = await execNode("process.exit(0)", {}, "demo:nul").done;
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/^baton: /);
    expect(result.stderr).not.toContain(secretPart);
    expect(result.stderr).not.toContain(secretPart.slice(0, 8));
    expect(result.stdout).toBe("");
  });

  it("given a command that does not exist, should exit 127 naming the command only", async () => {
    const child = spawn(process.execPath, [BATON, "exec", "demo:exec", "--", "no-such-command-for-baton"], {
      env: { ...process.env, BATON_HOME: home, BATON_STORAGE: "file", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(127);
    expect(stderr).toContain("no-such-command-for-baton");
    expect(stderr).not.toContain(TOKEN);
  });
});
