/**
 * `baton demo` through the real CLI, small: it starts its own authorization server and BATON_HOME, logs in, runs
 * one herd round, prints the status table and the replay summary, and exits 0 only when every round saw one refresh,
 * no reuse and every process holding the same token. Also its argument checks.
 */
import { describe, expect, it } from "vitest";
import { tempHome } from "../support/baton-cli.ts";
import { cliSession } from "../support/cli-session.ts";

describe("baton demo", () => {
  it("given 3 processes and 1 round, shows one refresh grant, no reuse and nobody logged out", async () => {
    const { home, cleanup } = await tempHome();
    try {
      const result = await cliSession(home).run([
        "demo",
        "--processes",
        "3",
        "--rounds",
        "1",
        "--ttl",
        "2",
        "--latency",
        "20",
      ]);
      expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
      expect(result.stdout).toContain("logged in as demo:you (authorization code + PKCE, headless): generation 1");
      expect(result.stdout).toMatch(
        /round 1: 3 processes → 1 refresh grant, 0 reuse errors, 3\/3 hold token [0-9a-f]{8} after \d+ ms/,
      );
      expect(result.stdout).toMatch(/demo:you \*\s+\S+\s+valid\s+2\s+/);
      expect(result.stdout).toContain("replay: ");
      expect(result.stdout).toContain("one refresh per rotation, zero reuse, nobody logged out.");
    } finally {
      await cleanup();
    }
  });

  it("given 0 processes, refuses with a usage error (exit 2)", async () => {
    const { home, cleanup } = await tempHome();
    try {
      const result = await cliSession(home).run(["demo", "--processes", "0"]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("use 1–128 processes");
    } finally {
      await cleanup();
    }
  });
});
