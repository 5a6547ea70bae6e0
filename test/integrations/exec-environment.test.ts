/**
 * `baton exec` for tools that read a token from their environment: several `--env NAME=REF` pairs give one process
 * the tokens of several accounts, `REF --env NAME` and the default variable still work, `--min-valid` refreshes first
 * (one server call) when less remains and never when the provider's tokens cannot last that long, and a token that
 * expires within a typical run gets a warning. The child reports SHA-256 fingerprints of what it received, never the
 * tokens.
 */

import { fingerprint } from "@baton/core";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempHome } from "../support/baton-cli.ts";
import { cliSession, leaks, loginWithCli } from "../support/cli-session.ts";

let server: AuthorizationServer;
let session: ReturnType<typeof cliSession>;
let cleanup: () => Promise<void>;
const secrets = new Set<string>();

/** A child that prints `NAME=fingerprint` for each variable (or `NAME=-` when unset). */
const report = (...names: ReadonlyArray<string>) => [
  process.execPath,
  "-e",
  `const {createHash}=require("node:crypto");for(const n of ${JSON.stringify(names)}){const v=process.env[n];` +
    `console.log(n+"="+(v===undefined?"-":createHash("sha256").update(v).digest("hex").slice(0,8)))}`,
];

const token = async (ref: string) => {
  const value = (await session.run(["token", ref])).stdout.trimEnd();
  secrets.add(value);
  return value;
};

beforeAll(async () => {
  server = await startAuthorizationServer({ accessTokenTtlSeconds: 600 });
  const made = await tempHome();
  cleanup = made.cleanup;
  session = cliSession(made.home);
  const add = ["provider", "add", "demo", "--issuer", server.issuer, "--client-id", server.clientId];
  expect((await session.run([...add, "--scope", server.scopes])).code).toBe(0);
  for (const ref of ["demo:you", "demo:ci"]) expect((await loginWithCli(made.home, ref)).code).toBe(0);
});

afterAll(async () => {
  await server?.stop();
  await cleanup?.();
});

describe("baton exec --env", () => {
  it("exec --env NAME=REF - should give one process the tokens of several accounts", async () => {
    const [you, ci] = [await token("demo:you"), await token("demo:ci")];
    expect(you).not.toBe(ci);
    const result = await session.run([
      "exec",
      "--env",
      "GH_TOKEN=demo:you",
      "--env",
      "CI_TOKEN=demo:ci",
      "--",
      ...report("GH_TOKEN", "CI_TOKEN", "BATON_ACCESS_TOKEN"),
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`GH_TOKEN=${fingerprint(you)}\nCI_TOKEN=${fingerprint(ci)}\nBATON_ACCESS_TOKEN=-\n`);
  });

  it("exec REF [--env NAME] - should keep the single-account forms", async () => {
    const you = await token("demo:you");
    const named = await session.run(["exec", "demo:you", "--env", "GH_TOKEN", "--", ...report("GH_TOKEN")]);
    expect(named.stdout).toBe(`GH_TOKEN=${fingerprint(you)}\n`);
    const plain = await session.run(["exec", "demo:you", "--", ...report("BATON_ACCESS_TOKEN")]);
    expect(plain.stdout).toBe(`BATON_ACCESS_TOKEN=${fingerprint(you)}\n`);
  });

  it("exec - should warn when the token expires before a typical run ends, naming --min-valid", async () => {
    const result = await session.run(["exec", "demo:you", "--", ...report("BATON_ACCESS_TOKEN")]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/warning: the token of demo:you expires in \d+m .*--min-valid/);
  });

  it("exec --min-valid - should refresh first (one server call) when less remains, and not warn then", async () => {
    const before = await token("demo:you");
    // Less than 599 s of the 600 s lifetime must remain: let a little more than a second pass since the login.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const counters = server.counters();
    const result = await session.run([
      "exec",
      "demo:you",
      "--min-valid",
      "599s",
      "--",
      ...report("BATON_ACCESS_TOKEN"),
    ]);
    expect(result.code, result.stderr).toBe(0);
    const after = await token("demo:you");
    expect(after).not.toBe(before);
    expect(result.stdout).toBe(`BATON_ACCESS_TOKEN=${fingerprint(after)}\n`);
    expect(server.counters().refreshGrants - counters.refreshGrants).toBe(1);
    expect(server.counters().reuseErrors).toBe(counters.reuseErrors);
    expect(result.stderr).not.toContain("warning");
  });

  it("exec --min-valid - should not refresh for a duration the provider's tokens never last, and say so", async () => {
    const counters = server.counters();
    const result = await session.run(["exec", "demo:you", "--min-valid", "2h", "--", ...report("BATON_ACCESS_TOKEN")]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("less than --min-valid; not refreshing for it");
    expect(server.counters().tokenRequests).toBe(counters.tokenRequests);
  });

  it("exec - should refuse a bad duration, a bad pair and a missing account with exit 2, running nothing", async () => {
    for (const args of [
      ["exec", "demo:you", "--min-valid", "soon", "--", "true"],
      ["exec", "--env", "1BAD=demo:you", "--", "true"],
      ["exec", "--env", "A=demo:you", "--env", "A=demo:ci", "--", "true"],
    ]) {
      const result = await session.run(args);
      expect(result.code, args.join(" ")).toBe(2);
    }
  });

  it("should show no token in any output", () => {
    expect(leaks(session.outputs(), secrets)).toEqual([]);
  });
});
