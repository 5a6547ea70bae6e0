/**
 * What the CLI says when it is called wrongly, for every command: `--help` (exit 0, usage and examples on stdout),
 * an unknown flag or a missing argument (exit 2), a malformed account reference (exit 2, naming the problem), an
 * unknown provider (exit 5) and an account without credentials (exit 3), each with a message saying what to do.
 */
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempHome } from "../support/baton-cli.ts";
import { cliSession } from "../support/cli-session.ts";

let server: AuthorizationServer;
let cleanup: () => Promise<void>;
let session: ReturnType<typeof cliSession>;

beforeAll(async () => {
  server = await startAuthorizationServer();
  const temp = await tempHome();
  cleanup = temp.cleanup;
  session = cliSession(temp.home, { BATON_PASSPHRASE: "unused-passphrase" });
  const add = ["provider", "add", "demo", "--issuer", server.issuer, "--client-id", server.clientId];
  expect((await session.run(add)).code).toBe(0);
});

afterAll(async () => {
  await server?.stop();
  await cleanup?.();
});

/** `it.each` rows named by their command line. */
const rows = (commands: ReadonlyArray<ReadonlyArray<string>>) =>
  commands.map((args) => ({ line: args.join(" "), args }));

const WITH_EXAMPLES = rows([
  ["provider"],
  ["provider", "add"],
  ["provider", "list"],
  ["provider", "remove"],
  ["refresh"],
  ["logout"],
  ["demo"],
  ["login"],
  ["token"],
  ["exec"],
  ["status"],
  ["use"],
  ["replay"],
  ["export"],
  ["import"],
  ["clean"],
  ["rebuild"],
  ["doctor"],
]);

describe("--help", () => {
  it.each(WITH_EXAMPLES)(
    "baton $line --help prints usage and examples on stdout and exits 0",
    async ({ line, args }) => {
      const result = await session.run([...args, "--help"]);
      expect(result.code).toBe(0);
      expect(result.stderr).toBe("");
      expect(result.stdout).toContain(`USAGE\n  baton ${line}`);
      expect(result.stdout).toMatch(/EXAMPLES\n {2}# .+\n {2}baton /);
    },
  );
});

describe("bad arguments exit 2", () => {
  it.each(
    rows([
      ["token", "demo:you", "--bogus"],
      ["status", "--bogus"],
      ["export", "demo:you", "--bogus"],
      ["import", "demo:you", "--bogus"],
      ["clean", "--bogus"],
      ["rebuild", "--bogus"],
      ["doctor", "--bogus"],
      ["demo", "--processes", "many"],
    ]),
  )("given an unknown flag or a bad value: baton $line", async ({ args }) => {
    const result = await session.run(args);
    expect(result.code).toBe(2);
    expect(`${result.stdout}${result.stderr}`).toContain("USAGE");
  });

  it.each(rows([["token"], ["login"], ["use"], ["logout"], ["export"], ["import"], ["exec"], ["provider", "remove"]]))(
    "given no account or name: baton $line",
    async ({ args }) => {
      const result = await session.run(args);
      expect(result.code).toBe(2);
      expect(`${result.stdout}${result.stderr}`).toContain("USAGE");
    },
  );

  it("names the unknown flag on stderr and keeps stdout empty", async () => {
    const result = await session.run(["token", "demo:you", "--bogus"]);
    expect(result.stderr).toContain("--bogus");
    expect(result.stdout).toBe("");
  });

  it.each([
    ["token", "demo:a:b", 'has more than one ":"'],
    ["status", "demo:a b", '"a b" is not a valid account name'],
    ["refresh", "_x:you", '"_x" is not a valid provider name'],
    ["use", "demo:", '"" is not a valid account name'],
    ["logout", "demo:../x", '"../x" is not a valid account name'],
    ["replay", "de mo", '"de mo" is not a valid provider name'],
    ["export", "demo:a:b", 'has more than one ":"'],
    ["import", "demo:a/b", '"a/b" is not a valid account name'],
    ["login", "demo:a:b", 'has more than one ":"'],
    ["exec", "demo:a:b", 'has more than one ":"'],
  ])("given a malformed reference: baton %s %s names the problem", async (command, ref, message) => {
    const args = command === "exec" ? [command, ref, "--", "true"] : [command, ref];
    const result = await session.run(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it("given use with a bare provider, asks for the account", async () => {
    const result = await session.run(["use", "demo"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("name the account: baton use demo:ACCOUNT");
  });
});

describe("unknown providers exit 5, accounts without credentials exit 3", () => {
  it.each(
    rows([
      ["token", "nope:you"],
      ["token", "nope"],
      ["login", "nope:you", "--no-browser"],
      ["refresh", "nope:you"],
      ["use", "nope:you"],
      ["logout", "nope:you"],
      ["export", "nope:you"],
      ["import", "nope:you", "/nonexistent"],
      ["exec", "nope:you", "--", "true"],
      ["status", "nope:you"],
      ["replay", "nope:you"],
      ["provider", "remove", "nope"],
    ]),
  )("baton $line exits 5 and points to provider add", async ({ args }) => {
    const result = await session.run(args);
    expect(result.code).toBe(5);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(
      'no provider named "nope"; see `baton provider list` or add it with `baton provider add`',
    );
  });

  it.each(
    rows([
      ["token", "demo:nobody"],
      ["refresh", "demo:nobody"],
      ["export", "demo:nobody"],
      ["exec", "demo:nobody", "--", "true"],
    ]),
  )("baton $line exits 3 and says to log in", async ({ args }) => {
    const result = await session.run(args);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("baton login demo:nobody");
  });

  it("baton use demo:nobody exits 3, says to log in and leaves the default as it was", async () => {
    const before = await session.run(["provider", "list", "--json"]);
    const result = await session.run(["use", "demo:nobody"]);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("demo:nobody has no credentials");
    expect(result.stderr).toContain("baton login demo:nobody");
    expect((await session.run(["token", "demo"])).stderr).toContain("demo has no default account yet");
    expect((await session.run(["provider", "list", "--json"])).stdout).toBe(before.stdout);
  });

  it.each(
    rows([
      ["status", "demo:nobody"],
      ["status", "demo:nobody", "--json"],
    ]),
  )("baton $line exits 5: the account has neither credentials nor history", async ({ args }) => {
    const result = await session.run(args);
    expect(result.code).toBe(5);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("no account demo:nobody");
  });

  it("baton logout demo:nobody exits 3, records nothing and creates no account directory", async () => {
    const result = await session.run(["logout", "demo:nobody"]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("demo:nobody is not logged in");
    const replayed = await session.run(["replay", "demo:nobody", "--json"]);
    expect(JSON.parse(replayed.stdout).accounts[0].events).toEqual([]);
  });

  it("given a provider with no default account, a bare PROVIDER says how to name one", async () => {
    const result = await session.run(["token", "demo"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("demo has no default account yet; name one as demo:ACCOUNT");
  });
});
