/**
 * The first half of `baton demo`: the same herd WITHOUT coordination. Every process is the naive tool
 * (demo-naive-tool.ts, a program of its own) sharing one credentials file; once all are loaded they start together
 * (as a herd finds an expired token at once), and each one that finds the access token expired presents the refresh
 * token itself. The server sees one refresh token presented many times, detects the
 * reuse and revokes the whole token family — then the demo asks the server (introspection) whether the token each
 * process ended up with still works: that is how many were logged out.
 */
import { spawn } from "node:child_process";
import { realpathSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { TokenSet } from "@baton/core";
import type { DemoServer } from "./demo-setup.ts";

/** The naive tool's program, beside the `baton` bundle running now (through the bin's link, if any). */
export const naiveToolPath = (script: string) => join(dirname(realpathSync(script)), "demo-naive-tool.mjs");

export interface NaiveRound {
  readonly processes: number;
  /** Processes that presented the refresh token (found the token expired). */
  readonly presented: number;
  readonly rotated: number;
  readonly rejected: number;
  readonly reuseErrors: number;
  readonly grantsRevoked: number;
  /** Processes left without a working access token. */
  readonly loggedOut: number;
  readonly elapsedMs: number;
}

interface ToolReport {
  readonly outcome: "fresh" | "refreshed" | "rejected" | "failed";
  readonly accessToken?: string;
  readonly error?: string;
}

/** One naive process: `ready` resolves once it is loaded; `go()` starts it; `report` is what it did. */
const startTool = (tool: string, file: string, server: DemoServer, onExit: () => void) => {
  const child = spawn(process.execPath, [tool, file, `${server.issuer}/token`, server.clientId], {
    stdio: ["pipe", "pipe", "ignore"],
  });
  let stdout = "";
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
    if (stdout.startsWith("ready\n")) markReady();
  });
  const report = new Promise<ToolReport>((resolve) => {
    child.on("close", () => {
      onExit();
      markReady();
      try {
        resolve(JSON.parse(stdout.replace(/^ready\n/, "")) as ToolReport);
      } catch {
        resolve({ outcome: "failed", error: "no report" });
      }
    });
    child.on("error", (error) => resolve({ outcome: "failed", error: error.message }));
  });
  return { ready, go: () => child.stdin.end("go\n"), report };
};

/** Writes the naive tool's credentials file (0600) from a fresh login of its own (its own token family). */
export const writeNaiveCredentials = (file: string, tokens: TokenSet, obtainedAt: number) =>
  writeFile(
    file,
    JSON.stringify({
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      expiresAt: obtainedAt + (tokens.expiresIn ?? 0) * 1000,
    }),
    { mode: 0o600 },
  );

export const runNaiveRound = async (
  tool: string,
  file: string,
  server: DemoServer,
  processes: number,
  onExit: () => void,
): Promise<NaiveRound> => {
  const { isTokenActive } = await import("@baton/devserver");
  const herd = Array.from({ length: processes }, () => startTool(tool, file, server, onExit));
  await Promise.all(herd.map((p) => p.ready));
  const before = server.counters();
  const start = performance.now();
  for (const p of herd) p.go();
  const reports = await Promise.all(herd.map((p) => p.report));
  const elapsedMs = performance.now() - start;
  const after = server.counters();
  // The family is revoked a moment after the reuse: ask about every token once the whole herd is done.
  const tokens = [...new Set(reports.flatMap((r) => (r.accessToken === undefined ? [] : [r.accessToken])))];
  const active = new Map(await Promise.all(tokens.map(async (t) => [t, await isTokenActive(server, t)] as const)));
  return {
    processes,
    presented: reports.filter((r) => r.outcome === "refreshed" || r.outcome === "rejected").length,
    rotated: after.refreshGrants - before.refreshGrants,
    rejected: reports.filter((r) => r.outcome === "rejected").length,
    reuseErrors: after.reuseErrors - before.reuseErrors,
    grantsRevoked: after.grantsRevoked - before.grantsRevoked,
    loggedOut: reports.filter((r) => r.accessToken === undefined || active.get(r.accessToken) !== true).length,
    elapsedMs,
  };
};
