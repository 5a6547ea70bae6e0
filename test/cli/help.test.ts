/**
 * Help and the global flags: a bare `baton` or `baton provider` (a command that needs a subcommand) is a usage error —
 * the help goes to stderr, stdout stays empty, exit 2; `baton help [COMMAND…]` prints the help on stdout (exit 0);
 * effect/cli's interactive `--wizard` is not offered; `--log-level debug` is BATON_DEBUG=1 (time-stamped decisions on
 * stderr).
 */
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoggedInAccount, loggedInAccount, REF } from "../support/account.ts";
import { runBaton, tempHome } from "../support/baton-cli.ts";

let home: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ home, cleanup } = await tempHome());
});
afterAll(async () => {
  await cleanup?.();
});

describe("help", () => {
  it.each([[[]], [["provider"]]])("given baton %j alone, should print the help on stderr and exit 2", async (args) => {
    const result = await runBaton(args, { home });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(`USAGE\n  baton ${args.length === 0 ? "" : `${args.join(" ")} `}<subcommand>`);
  });

  it("help - should print the top-level help on stdout and exit 0", async () => {
    const result = await runBaton(["help"], { home });
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toContain("USAGE\n  baton <subcommand>");
    expect(result.stdout).toMatch(/SUBCOMMANDS\n(.*\n)*\s+token\s/);
  });

  it("help COMMAND - should print that command's help, as COMMAND --help does", async () => {
    const help = await runBaton(["help", "provider", "add"], { home });
    const flag = await runBaton(["provider", "add", "--help"], { home });
    expect(help).toMatchObject({ code: 0, stderr: "" });
    expect(help.stdout).toContain("USAGE\n  baton provider add");
    expect(help.stdout).toBe(flag.stdout);
  });

  it("help - given an unknown command, should say so on stderr and exit 2", async () => {
    const result = await runBaton(["help", "bogus"], { home });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("bogus");
  });

  it("--wizard - should not be offered", async () => {
    const help = await runBaton(["--help"], { home });
    expect(help.stdout).not.toContain("--wizard");
    const result = await runBaton(["--wizard"], { home });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
  });
});

describe("--log-level", () => {
  let account: LoggedInAccount;
  let server: AuthorizationServer;
  beforeAll(async () => {
    server = await startAuthorizationServer({ accessTokenTtlSeconds: 3600 });
    account = await loggedInAccount(server);
  });
  afterAll(async () => {
    await account?.cleanup();
    await server?.stop();
  });

  it("given --log-level debug, should log the decisions on stderr as BATON_DEBUG=1 does", async () => {
    const flag = await runBaton(["refresh", REF, "--log-level", "debug"], { home: account.home });
    const variable = await runBaton(["refresh", REF], { home: account.home, env: { BATON_DEBUG: "1" } });
    const debugLine = /^baton \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z debug: demo:you: rotated generation \d+ → \d+/m;
    expect(flag.code).toBe(0);
    expect(flag.stderr).toMatch(debugLine);
    expect(variable.stderr).toMatch(debugLine);
  });

  it("given no --log-level, should log no decisions", async () => {
    const result = await runBaton(["refresh", REF], { home: account.home });
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain("debug:");
  });
});
