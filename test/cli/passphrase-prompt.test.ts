/**
 * The passphrase prompt of `baton export` / `baton import` on a real terminal: the CLI runs under util-linux
 * `script`, which gives it a pseudo-terminal, and the test types at the prompts. Echo is off (the passphrase never
 * shows in the terminal's output), export asks twice and refuses two different answers. Skipped where `script` is
 * missing.
 */
import { spawn, spawnSync } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Envelope, unseal } from "../../packages/cli/src/export-format.ts";
import { BATON, tempHome } from "../support/baton-cli.ts";
import { cliSession, loginWithCli } from "../support/cli-session.ts";

const hasScript = spawnSync("script", ["--version"]).status === 0;
const quote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;

/** Runs `baton ARGS` on a pseudo-terminal, answering each prompt in turn with the next of `answers`. */
const onTerminal = (home: string, args: ReadonlyArray<string>, answers: ReadonlyArray<string>) =>
  new Promise<{ code: number; output: string }>((resolve) => {
    const command = [process.execPath, BATON, ...args].map(quote).join(" ");
    const { BATON_PASSPHRASE: _unset, ...inherited } = process.env;
    const child = spawn("script", ["-qec", command, "/dev/null"], {
      env: { ...inherited, BATON_HOME: home, BATON_STORAGE: "file", NO_COLOR: "1" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    let answered = 0;
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
      const prompts = output.match(/Passphrase for the [^\n]*?: |Repeat the passphrase: /g)?.length ?? 0;
      while (answered < prompts && answered < answers.length) child.stdin.write(`${answers[answered++]}\r`);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      child.stdin.end();
      resolve({ code: code ?? -1, output });
    });
  });

let server: AuthorizationServer;
let home: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  server = await startAuthorizationServer({ accessTokenTtlSeconds: 600 });
  ({ home, cleanup } = await tempHome());
  const add = ["provider", "add", "demo", "--issuer", server.issuer, "--client-id", server.clientId];
  expect((await cliSession(home).run([...add, "--scope", server.scopes])).code).toBe(0);
  expect((await loginWithCli(home, "demo:you")).code).toBe(0);
});

afterAll(async () => {
  await server?.stop();
  await cleanup?.();
});

describe.skipIf(!hasScript)("the passphrase prompt on a terminal", () => {
  it("given BATON_PASSPHRASE unset, export asks twice without echo and the file decrypts with the typed passphrase", async () => {
    const file = `${home}.prompted.baton`;
    try {
      const typed = "typed-on-the-terminal-7";
      const { code, output } = await onTerminal(home, ["export", "demo:you", "--out", file], [typed, typed]);
      expect(code, output).toBe(0);
      expect(output).toContain("Passphrase for the export of demo:you: ");
      expect(output).toContain("Repeat the passphrase: ");
      expect(output).not.toContain(typed);
      const envelope = JSON.parse(await readFile(file, "utf8")) as Envelope;
      expect(await unseal(envelope, typed)).toMatchObject({ issuer: server.issuer });
    } finally {
      await rm(file, { force: true });
    }
  });

  it("given two different answers, export refuses with exit 2 and writes nothing", async () => {
    const file = `${home}.mismatch.baton`;
    const { code, output } = await onTerminal(home, ["export", "demo:you", "--out", file], ["first-answer", "second"]);
    expect(code).toBe(2);
    expect(output).toContain("the two passphrases differ");
    await expect(readFile(file)).rejects.toThrow();
  });
});
