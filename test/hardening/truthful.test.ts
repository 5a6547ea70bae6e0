/**
 * `status`, `replay` and `doctor` telling the truth (#14), with real `baton` processes: status shows who is logged in,
 * which account is the provider's default and how many sessions use it; replay's header names the same state as
 * status; a claimant or lock holder that is a zombie (exited, never reaped — as under a container init that does not
 * reap) counts as gone, and doctor says so.
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import {
  accountDir,
  loggedInAccount,
  REF,
  replayOf,
  sleep,
  status,
  token,
  waitUntilExpired,
} from "../support/account.ts";
import { runBaton, startBaton } from "../support/baton-cli.ts";
import { useLocalServer } from "../support/local-server.ts";

const server = useLocalServer({ accessTokenTtlSeconds: 2 });

/** A zombie: a child of a process that never waits for it. Returns its pid and a way to end its parent. */
const zombie = async (): Promise<{ readonly pid: number; readonly end: () => void }> => {
  const parent = spawn("sh", ["-c", "sleep 0.1 & echo $!; exec sleep 30"], { stdio: ["ignore", "pipe", "ignore"] });
  const line = await new Promise<string>((resolve) =>
    createInterface({ input: parent.stdout }).once("line", (text) => resolve(text)),
  );
  await sleep(400);
  return { pid: Number(line), end: () => parent.kill("SIGKILL") };
};

describe("status, replay and doctor", () => {
  it("status - should show who is logged in, the default account and the sessions using it", async () => {
    const account = await loggedInAccount(server());
    try {
      const first = await status(account.home);
      expect(first).toMatchObject({ default: true, sessions: 0 });
      expect(first.identity?.subject).toBeTruthy();
      const exec = startBaton(["exec", REF, "--", "sleep", "3"], { home: account.home });
      await sleep(1_200);
      expect((await status(account.home)).sessions).toBe(1);
      await exec.done;
      const table = await runBaton(["status"], { home: account.home });
      expect(table.stdout).toContain(`${REF} *`);
      expect(table.stdout).toContain(String(first.identity?.subject));
    } finally {
      await account.cleanup();
    }
  });

  it("replay - should name the same state as status in its header", async () => {
    const account = await loggedInAccount(server());
    try {
      await waitUntilExpired(account.home);
      const now = await status(account.home);
      expect(now.state).toBe("expired");
      expect((await replayOf(account.home)).state).toBe(now.state);
    } finally {
      await account.cleanup();
    }
  });

  it("doctor and token - should count a zombie claimant and lock holder as gone", async () => {
    const account = await loggedInAccount(server());
    const dead = await zombie();
    try {
      const dir = accountDir(account.home);
      mkdirSync(join(dir, "claims"), { recursive: true, mode: 0o700 });
      writeFileSync(
        join(dir, "claims", "g1-a1.claim"),
        JSON.stringify({ generation: 1, attempt: 1, claimant: { host: hostname(), pid: dead.pid, at: Date.now() } }),
        { mode: 0o600 },
      );
      const doctor = await runBaton(["doctor", "--json"], { home: account.home });
      expect(doctor.stdout).toContain("zombie");
      await waitUntilExpired(account.home);
      // The zombie never presented: its claim is no obstacle, and the refresh takes attempt 2.
      const result = await token(account.home);
      expect(result.code, result.stderr).toBe(0);
      expect((await status(account.home)).generation).toBe(2);
    } finally {
      dead.end();
      await account.cleanup();
    }
  });
});
