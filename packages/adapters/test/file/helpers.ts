/**
 * Shared helpers of the file adapter tests: temporary BATON_HOMEs, running effects against the file layers with a
 * logger that captures warnings, test credentials, and child processes driven by the .mjs fixtures (plain Node, no
 * TypeScript, so they run without a build).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type {
  AccountLock,
  AccountRef,
  ClaimStore,
  Credentials,
  EventStore,
  HostIdentity,
  SecretStore,
} from "@baton/core";
import { Effect, Layer, Logger } from "effect";
import { layerFileStores } from "../../src/file/index.ts";

export const account: AccountRef = { provider: "github", account: "work" };

export const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** A fresh BATON_HOME under the OS temp dir; `cleanup` removes it. */
export const makeHome = (): { readonly home: string; readonly cleanup: () => void } => {
  const home = mkdtempSync(join(tmpdir(), "baton-file-"));
  return { home, cleanup: () => rmSync(home, { recursive: true, force: true }) };
};

export type Stores = SecretStore | EventStore | ClaimStore | AccountLock | HostIdentity;

/** Runs `effect` with `layer`; warnings logged meanwhile are pushed to `logs`. */
export const runWithLayer = <A, E, R>(
  layer: Layer.Layer<R>,
  effect: Effect.Effect<A, E, R>,
  logs: Array<string> = [],
): Promise<A> => {
  const logger = Logger.make(({ message }) => {
    logs.push((Array.isArray(message) ? message : [message]).map(String).join(" "));
  });
  return Effect.runPromise(Effect.provide(effect, Layer.mergeAll(layer, Logger.layer([logger]))));
};

/** Runs `effect` with the file stores of `home` (or `layer`); warnings logged meanwhile are pushed to `logs`. */
export const runWith = <A, E>(
  home: string,
  effect: Effect.Effect<A, E, Stores>,
  logs: Array<string> = [],
  layer: Layer.Layer<Stores> = layerFileStores({ home }),
): Promise<A> => runWithLayer(layer, effect, logs);

export const credentials = (generation: number, overrides: Partial<Credentials> = {}): Credentials => ({
  version: 1,
  account: "github:work",
  generation,
  accessToken: `access-token-secret-${generation}`,
  refreshToken: `refresh-token-secret-${generation}`,
  tokenType: "Bearer",
  expiresAt: 1_800_000_000_000 + generation,
  obtainedAt: 1_700_000_000_000 + generation,
  issuer: "https://issuer.example",
  clientId: "cli",
  ...overrides,
});

/** Wall time with sub-millisecond precision, comparable across processes on this machine. */
export const preciseNow = (): number => performance.timeOrigin + performance.now();

/** A child process whose stdout lines can be awaited. */
export interface Child {
  readonly process: ChildProcess;
  /** The first stdout line (not yet taken) that starts with `prefix` or matches it. */
  readonly line: (prefix: string | RegExp) => Promise<string>;
  readonly send: (command: string) => void;
  readonly exited: Promise<number | null>;
}

export const startChild = (script: string, args: ReadonlyArray<string>): Child => {
  const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", fixture(script), ...args], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines: Array<string> = [];
  const waiters: Array<{ prefix: string | RegExp; resolve: (line: string) => void }> = [];
  const matches = (line: string, prefix: string | RegExp) =>
    typeof prefix === "string" ? line.startsWith(prefix) : prefix.test(line);
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const index = waiters.findIndex((w) => matches(line, w.prefix));
    if (index >= 0) waiters.splice(index, 1)[0]!.resolve(line);
    else lines.push(line);
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    process: child,
    exited,
    send: (command) => child.stdin!.write(`${command}\n`),
    line: (prefix) => {
      const index = lines.findIndex((l) => matches(l, prefix));
      if (index >= 0) return Promise.resolve(lines.splice(index, 1)[0]!);
      return new Promise((resolve) => waiters.push({ prefix, resolve }));
    },
  };
};
