/**
 * Running the real `baton` CLI (the bundled packages/cli/dist/baton.mjs, built by `pnpm run build` before the tests)
 * as child processes on a shared BATON_HOME, the way users and scripts do. A run that sets BATON_TEST_HOOK runs the
 * test-only build with protocol hooks instead (test/dist/baton-hooked.mjs, hooked-baton.ts): the same CLI from the
 * same sources, bundled by the integration tests' global setup.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ProcessResult, startProcess } from "./child-process.ts";

export const BATON = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "packages", "cli", "dist", "baton.mjs");
export const HOOKED_BATON = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "baton-hooked.mjs");

export type BatonResult = Pick<ProcessResult, "code" | "signal" | "stdout" | "stderr">;

export interface BatonOptions {
  readonly home: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Called for every stderr chunk (e.g. to read a login URL or a hook announcement). */
  readonly onStderr?: (text: string, child: ChildProcess) => void;
  /** Text for the standard input (default: none). */
  readonly input?: string;
  readonly timeoutMs?: number;
}

export const startBaton = (args: ReadonlyArray<string>, options: BatonOptions) => {
  const hooked = (options.env?.BATON_TEST_HOOK ?? "") !== "";
  return startProcess(process.execPath, [hooked ? HOOKED_BATON : BATON, ...args], {
    env: { BATON_HOME: options.home, BATON_STORAGE: "file", NO_COLOR: "1", ...options.env },
    ...(options.input === undefined ? {} : { stdin: { text: options.input } }),
    ...(options.onStderr === undefined ? {} : { onStderr: options.onStderr }),
    timeoutMs: options.timeoutMs ?? 90_000,
  });
};

export const runBaton = (args: ReadonlyArray<string>, options: BatonOptions): Promise<BatonResult> =>
  startBaton(args, options).done;

export const tempHome = async (): Promise<{ readonly home: string; readonly cleanup: () => Promise<void> }> => {
  const home = await mkdtemp(join(tmpdir(), "baton-it-"));
  return { home, cleanup: () => rm(home, { recursive: true, force: true }) };
};
