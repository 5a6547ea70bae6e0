/**
 * The entry paths of `baton` give one behaviour: the lean entry (`token REF`, `status [REF] [--json]` without
 * effect/cli) prints what the full CLI prints for the same command, and fails the same way. `--log-level warn` (the
 * default level) sends a command line to the full CLI; BATON_DEBUG=1 keeps `token` off the fast path.
 */
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoggedInAccount, loggedInAccount, REF } from "../support/account.ts";
import { runBaton } from "../support/baton-cli.ts";

let server: AuthorizationServer;
let account: LoggedInAccount;
beforeAll(async () => {
  server = await startAuthorizationServer({ accessTokenTtlSeconds: 3600 });
  account = await loggedInAccount(server);
});
afterAll(async () => {
  await account?.cleanup();
  await server?.stop();
});

const FULL = ["--log-level", "warn"];

describe("lean entry and full CLI", () => {
  it.each([[["status"]], [["status", "--json"]], [["status", REF, "--json"]], [["status", "--json", "nope:you"]]])(
    "given baton %j, should print and exit as the full CLI does",
    async (args) => {
      const lean = await runBaton(args, { home: account.home });
      const full = await runBaton([...args, ...FULL], { home: account.home });
      expect({ code: lean.code, stdout: lean.stdout, stderr: lean.stderr }).toEqual({
        code: full.code,
        stdout: full.stdout,
        stderr: full.stderr,
      });
    },
  );

  it.each([[[REF]], [["nope:you"]], [["demo:a"]]])(
    "given baton token %j, should answer as the full CLI does",
    async (args) => {
      const env = { BATON_DEBUG: "1" };
      const lean = await runBaton(["token", ...args], { home: account.home, env });
      const full = await runBaton(["token", ...args, ...FULL], { home: account.home });
      expect({ code: lean.code, stdout: lean.stdout }).toEqual({ code: full.code, stdout: full.stdout });
      expect(lean.stderr.split("\n").filter((line) => !line.includes(" debug: "))).toEqual(full.stderr.split("\n"));
    },
  );
});
