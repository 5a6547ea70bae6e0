/**
 * The demo's herd rounds: wait until the shared token has expired, start N `baton token` processes at once on the
 * same BATON_HOME, and report what the authorization server saw (refresh grants, reuse errors) and what every
 * process got (exit code, token fingerprint), with the time until the last one held a token.
 */
import { spawn } from "node:child_process";
import { fingerprint } from "@baton/core";

export interface RoundResult {
  readonly processes: number;
  readonly exitCodes: ReadonlyArray<number>;
  readonly fingerprints: ReadonlyArray<string>;
  readonly elapsedMs: number;
}

const runToken = (script: string, home: string, ref: string, onExit: () => void) =>
  new Promise<{ code: number; token: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [script, "token", ref], {
      env: { ...process.env, BATON_HOME: home, BATON_STORAGE: "file", BATON_STORE: "", BATON_DEBUG: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.on("close", (code) => {
      onExit();
      resolve({ code: code ?? 1, token: stdout.trim(), stderr });
    });
  });

/** Runs one herd round; `onExit` is called as each process ends (for the progress line). */
export const runRound = async (
  script: string,
  home: string,
  ref: string,
  processes: number,
  onExit: () => void = () => undefined,
): Promise<RoundResult> => {
  const start = performance.now();
  const results = await Promise.all(Array.from({ length: processes }, () => runToken(script, home, ref, onExit)));
  const elapsedMs = performance.now() - start;
  for (const r of results)
    if (r.code !== 0) process.stderr.write(`  a process failed (${r.code}): ${r.stderr.trim()}\n`);
  return {
    processes,
    exitCodes: results.map((r) => r.code),
    fingerprints: results.map((r) => (r.token === "" ? "-" : fingerprint(r.token))),
    elapsedMs,
  };
};
