/**
 * `baton demo` through the real CLI, small: it starts its own authorization server and BATON_HOME, logs in, runs the
 * herd first without coordination (reuse detected, the family revoked, every process logged out), then one round with
 * baton, prints the status table and the replay summary, writes the replay of baton's round as a page, and exits 0
 * only when every round saw one refresh, no reuse and every process holding the same token. Also its argument checks.
 */
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { dirname } from "node:path";
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
      expect(result.stdout).toContain("1. without coordination: 3 processes of a tool that refreshes on its own");
      expect(result.stdout).toContain(
        "3 processes → 3 refresh requests: 1 rotated, 2 rejected as reuse; the server detected the reuse and revoked the token family",
      );
      expect(result.stdout).toContain("3 of 3 logged out: no process holds a working token");
      expect(result.stdout).toContain(
        "server, during baton's rounds: 1 refresh grants, 0 reuse errors, 0 grants revoked",
      );
      expect(result.stdout).toMatch(
        /round 1: 3 processes → 1 refresh grant, 0 reuse errors, 3\/3 hold token [0-9a-f]{8} after \d+ ms/,
      );
      expect(result.stdout).toMatch(/demo:you \*\s+\S+\s+valid\s+2\s+/);
      expect(result.stdout).toContain("replay: ");
      expect(result.stdout).toContain("one refresh per rotation, zero reuse, nobody logged out.");
      const page = /the replay of baton's rounds, one lane per process: (\S+\.html)$/m.exec(result.stdout)?.[1] ?? "";
      expect(existsSync(page), result.stdout).toBe(true);
      try {
        const html = await readFile(page, "utf8");
        expect(
          html
            .split("<figure")
            .at(-1)
            ?.match(/<g class="lane/g),
        ).toHaveLength(3);
      } finally {
        await rm(dirname(page), { recursive: true, force: true });
      }
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
