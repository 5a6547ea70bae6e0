/**
 * A secret store that cannot keep the tokens fails a login before the user approves anything (#14 item 14): with the
 * keychain unreachable, `baton login` stops at once with a clear error (exit 4) and never prints the authorization
 * URL. Before: the browser step ran first and the approved tokens were thrown away when the keychain write failed.
 */
import { describe, expect, it } from "vitest";
import { addProvider, REF } from "../support/account.ts";
import { runBaton, tempHome } from "../support/baton-cli.ts";
import { useLocalServer } from "../support/local-server.ts";

const server = useLocalServer({ accessTokenTtlSeconds: 60 });

describe("login with a secret store that cannot keep the tokens", () => {
  it("keychain unreachable - should fail before the browser step, without printing the authorization URL", async () => {
    const { home, cleanup } = await tempHome();
    try {
      await addProvider(home, server());
      const result = await runBaton(["login", REF, "--no-browser"], {
        home,
        env: { BATON_STORAGE: "keychain", DBUS_SESSION_BUS_ADDRESS: `unix:path=${home}/no-such-bus` },
        timeoutMs: 20_000,
      });
      expect(result.signal, "login waited for a browser").toBeNull();
      expect(result.code, result.stderr).toBe(4);
      expect(result.stderr).toContain("cannot keep new tokens");
      expect(result.stderr).not.toContain(server().issuer);
      expect(server().counters().tokenRequests).toBe(0);
    } finally {
      await cleanup();
    }
  });
});
