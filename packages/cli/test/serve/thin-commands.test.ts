/** Which commands a thin client (BATON_SERVER) runs, and the refusal of the others (serve/thin-commands.ts). */
import { describe, expect, it } from "vitest";
import { thinRefusal } from "../../src/serve/thin-commands.ts";

const COMMANDS = [
  "login",
  "token",
  "exec",
  "status",
  "refresh",
  "serve",
  "git-credential",
  "kubectl-credential",
  "help",
];

describe("thinRefusal", () => {
  it("thinRefusal - should let the commands that use tokens, help and the version run", () => {
    for (const args of [
      ["token", "demo:you"],
      ["exec", "demo", "--", "true"],
      ["status", "--json"],
      ["git-credential", "get"],
      ["kubectl-credential", "demo"],
      ["help", "login"],
      ["login", "--help"],
      ["--version"],
      [],
      ["--log-level", "debug", "token", "demo"],
    ]) {
      expect(thinRefusal(args, COMMANDS, ["unix:/s"])).toBeUndefined();
    }
  });

  it("thinRefusal - should refuse the commands of a local store, saying where they run", () => {
    expect(thinRefusal(["login", "demo:you"], COMMANDS, ["unix:/s"])).toBe(
      "BATON_SERVER is set: this process borrows access tokens from the broker at unix:/s, which holds the accounts; " +
        "`baton login` runs on the broker's host (unset BATON_SERVER to use a store on this machine)",
    );
    expect(thinRefusal(["--log-level", "debug", "refresh", "demo"], COMMANDS, ["unix:/s"])).toContain(
      "`baton refresh`",
    );
    expect(thinRefusal(["serve"], COMMANDS, ["unix:/s"])).toContain("`baton serve`");
    expect(thinRefusal(["login"], COMMANDS, ["https://b1:8443", "https://b2:8443"])).toContain(
      "from the brokers at https://b1:8443, https://b2:8443, which hold the accounts",
    );
  });
});
