/**
 * Running a child process and collecting what it prints: the one spawn-and-collect helper of the tests and the
 * benchmark suite (test/bench loads it as is: Node strips its types). Output is collected whole and, when asked, also
 * handed over as it arrives (chunks of stderr, or complete lines with their arrival time); every child has a hard time
 * limit (SIGKILL).
 */
import { type ChildProcess, spawn } from "node:child_process";

export interface ProcessOptions {
  /** Merged over this process's environment; `undefined` removes a variable. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  /** Standard input: none (default), a pipe the caller writes to (`child.stdin`), or this text, then end of file. */
  readonly stdin?: "ignore" | "pipe" | { readonly text: string };
  /** SIGKILL after this long (default 90 s). */
  readonly timeoutMs?: number;
  /** Each stderr chunk as it arrives (e.g. to read a URL or an announcement). */
  readonly onStderr?: (text: string, child: ChildProcess) => void;
  /** Each complete line of stdout or stderr, with `performance.now()` at its arrival. */
  readonly onLine?: (stream: "stdout" | "stderr", line: string, at: number) => void;
}

export interface ProcessResult {
  readonly code: number;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** `performance.now()` at the spawn and at the close. */
  readonly spawnedAt: number;
  readonly endedAt: number;
}

export const startProcess = (command: string, args: ReadonlyArray<string>, options: ProcessOptions = {}) => {
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  const stdin = options.stdin ?? "ignore";
  const child = spawn(command, args, {
    env,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    stdio: [stdin === "ignore" ? "ignore" : "pipe", "pipe", "pipe"],
  });
  const spawnedAt = performance.now();
  const collected = { stdout: "", stderr: "" };
  const partial = { stdout: "", stderr: "" };
  const feed = (stream: "stdout" | "stderr", chunk: Buffer) => {
    const at = performance.now();
    const text = chunk.toString("utf8");
    collected[stream] += text;
    if (stream === "stderr") options.onStderr?.(text, child);
    if (options.onLine === undefined) return;
    partial[stream] += text;
    for (let newline = partial[stream].indexOf("\n"); newline >= 0; newline = partial[stream].indexOf("\n")) {
      options.onLine(stream, partial[stream].slice(0, newline), at);
      partial[stream] = partial[stream].slice(newline + 1);
    }
  };
  child.stdout?.on("data", (chunk: Buffer) => feed("stdout", chunk));
  child.stderr?.on("data", (chunk: Buffer) => feed("stderr", chunk));
  if (typeof stdin === "object") child.stdin?.end(stdin.text);
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 90_000);
  const done = new Promise<ProcessResult>((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, signal, ...collected, spawnedAt, endedAt: performance.now() });
    });
  });
  return { child, done, spawnedAt };
};

export const runProcess = (
  command: string,
  args: ReadonlyArray<string>,
  options: ProcessOptions = {},
): Promise<ProcessResult> => startProcess(command, args, options).done;
