/**
 * Starts `standalone.ts` as a child process and waits for its address line, for tests that need the authorization
 * server in another process (so the processes under test can be killed without killing the server). The child runs
 * on the current Node (`process.execPath`, which must strip types: Node >= 22.18) from the TypeScript source next to
 * this file, with a pipe on stdin: closing it, or this process dying, stops the server.
 *
 * Read counters and flip switches of the child through its `/_test/` control API (see control-api.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";

export interface StandaloneAuthorizationServer {
  readonly issuer: string;
  readonly clientId: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Closes the child's stdin and waits for it to exit (SIGKILL after `graceMs`, default 5000). */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnStandaloneOptions {
  /** Flags for standalone.ts, e.g. `["--access-ttl", "2", "--max-lifetime", "60"]`. */
  readonly args?: readonly string[];
  /** How long to wait for the address line. Default 15000 ms. */
  readonly startTimeoutMs?: number;
}

// Beside this module, with its extension: standalone.ts in the workspace, standalone.js in the built package.
const STANDALONE_ENTRY = fileURLToPath(new URL(`./standalone${extname(import.meta.url)}`, import.meta.url));
const STDERR_TAIL_CHARS = 2000;

interface AddressLine {
  readonly issuer: string;
  readonly clientId: string;
  readonly port: number;
}

function parseAddressLine(line: string): AddressLine | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const { issuer, clientId, port } = parsed as Record<string, unknown>;
  if (typeof issuer !== "string" || typeof clientId !== "string" || typeof port !== "number") return undefined;
  return { issuer, clientId, port };
}

function waitForExit(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(killer);
      resolve();
    });
  });
}

export function spawnStandaloneAuthorizationServer(
  options: SpawnStandaloneOptions = {},
): Promise<StandaloneAuthorizationServer> {
  const child = spawn(process.execPath, [STANDALONE_ENTRY, ...(options.args ?? [])], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderrTail = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
  });

  return new Promise((resolve, reject) => {
    let stdoutBuffer = "";
    const fail = (reason: string): void => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`standalone authorization server ${reason}\n${stderrTail}`));
    };
    const timer = setTimeout(() => fail("did not print its address in time"), options.startTimeoutMs ?? 15_000);
    const onEarlyExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      fail(`exited before listening (code ${code}, signal ${signal})`);
    child.once("exit", onEarlyExit);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", function onData(chunk: string) {
      stdoutBuffer += chunk;
      const newline = stdoutBuffer.indexOf("\n");
      if (newline === -1) return;
      child.stdout.off("data", onData);
      child.stdout.resume();
      const address = parseAddressLine(stdoutBuffer.slice(0, newline));
      if (address === undefined) {
        fail("printed an unexpected first line");
        return;
      }
      clearTimeout(timer);
      child.off("exit", onEarlyExit);
      resolve({
        ...address,
        child,
        stop: (graceMs = 5000) => {
          const exited = waitForExit(child, graceMs);
          child.stdin.end();
          return exited;
        },
      });
    });
  });
}
