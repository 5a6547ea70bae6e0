/**
 * Running a broker and its thin clients for the tests of `baton serve`: `startBroker` starts the real `baton serve`
 * (the hooked build when a protocol hook is asked for) on a logged-in home and resolves once it says where it listens;
 * `thin` runs `baton ARGS` as a thin client — in a fresh, empty BATON_HOME of its own, like a container with nothing
 * mounted but the socket — and `clientToken` issues a client token through `baton serve client add`.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BATON, type BatonResult, HOOKED_BATON, runBaton } from "../support/baton-cli.ts";
import { startProcess } from "../support/child-process.ts";

export interface RunningBroker {
  /** What clients put in BATON_SERVER. */
  readonly server: string;
  readonly child: ChildProcess;
  readonly done: Promise<BatonResult>;
  /** Everything the broker wrote on stderr so far. */
  readonly stderr: () => string;
  /** Resolves when the broker announced `BATON_HOOK <point>` (only with a hook). */
  readonly reached: (point: string) => Promise<void>;
}

export interface BrokerOptions {
  readonly env?: Readonly<Record<string, string>>;
  /** A command prefix to run the broker through (e.g. `ip netns exec NAME`). */
  readonly prefix?: ReadonlyArray<string>;
}

/** Starts `baton serve ARGS` on `home`; resolves when it listens (rejects if it exits first). */
export const startBroker = async (
  home: string,
  args: ReadonlyArray<string> = [],
  options: BrokerOptions = {},
): Promise<RunningBroker> => {
  let text = "";
  const waiters: Array<() => void> = [];
  const env = options.env ?? {};
  const bundle = (env.BATON_TEST_HOOK ?? "") === "" ? BATON : HOOKED_BATON;
  const [command = process.execPath, ...prefixArgs] = options.prefix ?? [];
  const started = startProcess(
    command,
    [...prefixArgs, ...(options.prefix === undefined ? [] : [process.execPath]), bundle, "serve", ...args],
    {
      env: { BATON_HOME: home, BATON_STORAGE: "file", NO_COLOR: "1", ...env },
      timeoutMs: 300_000,
      onStderr: (chunk) => {
        text += chunk;
        for (const wake of waiters.splice(0)) wake();
      },
    },
  );
  const until = async (found: () => string | undefined): Promise<string> => {
    for (;;) {
      const value = found();
      if (value !== undefined) return value;
      const exited = await Promise.race([
        started.done.then(() => true),
        new Promise<false>((resolve) => waiters.push(() => resolve(false))),
      ]);
      if (exited && found() === undefined) throw new Error(`baton serve exited: ${text.trim()}`);
    }
  };
  const server = await until(() => /clients set BATON_SERVER=(\S+)/.exec(text)?.[1]);
  return {
    server,
    child: started.child,
    done: started.done,
    stderr: () => text,
    reached: async (point) => {
      await until(() => (text.includes(`BATON_HOOK ${point}\n`) ? point : undefined));
    },
  };
};

/** Stops a broker with SIGTERM and waits for it. */
export const stopBroker = async (broker: RunningBroker): Promise<BatonResult> => {
  broker.child.kill("SIGTERM");
  return broker.done;
};

export interface ThinOptions {
  readonly server: string;
  readonly token?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly input?: string;
  /** The client's BATON_HOME (default: a new empty one, removed afterwards unless `keepHome`). */
  readonly home?: string;
  readonly timeoutMs?: number;
}

/** A new empty directory standing for a container's BATON_HOME. */
export const emptyHome = () => mkdtemp(join(tmpdir(), "baton-thin-"));

/** `baton ARGS` as a thin client of `options.server`, in an empty home. */
export const thin = async (args: ReadonlyArray<string>, options: ThinOptions): Promise<BatonResult> => {
  const home = options.home ?? (await emptyHome());
  try {
    return await runBaton(args, {
      home,
      env: {
        BATON_SERVER: options.server,
        ...(options.token === undefined ? {} : { BATON_SERVER_TOKEN: options.token }),
        ...options.env,
      },
      ...(options.input === undefined ? {} : { input: options.input }),
      timeoutMs: options.timeoutMs ?? 60_000,
    });
  } finally {
    if (options.home === undefined) await rm(home, { recursive: true, force: true });
  }
};

/** `baton serve client add NAME [--account REF]…` on the broker's home: the new client token. */
export const clientToken = async (
  home: string,
  name: string,
  accounts: ReadonlyArray<string> = [],
): Promise<string> => {
  const result = await runBaton(["serve", "client", "add", name, ...accounts.flatMap((ref) => ["--account", ref])], {
    home,
    timeoutMs: 30_000,
  });
  if (result.code !== 0) throw new Error(`client add exited ${result.code}: ${result.stderr.trim()}`);
  return result.stdout.trim();
};

/** One hand-out as `replay --json` lists it. */
export interface HandOutJson {
  readonly client: string;
  readonly generation: number;
  readonly accessFp: string;
  readonly expiresAt: number;
  readonly at: number;
}

/** The hand-outs `baton replay REF --json` shows on the broker's home. */
export const handOuts = async (home: string, ref: string): Promise<ReadonlyArray<HandOutJson>> => {
  const result = await runBaton(["replay", ref, "--json"], { home, timeoutMs: 30_000 });
  if (result.code !== 0) throw new Error(`replay exited ${result.code}: ${result.stderr.trim()}`);
  const parsed = JSON.parse(result.stdout) as {
    accounts: ReadonlyArray<{ account: string; handOuts: ReadonlyArray<HandOutJson> }>;
  };
  return parsed.accounts.find((entry) => entry.account === ref)?.handOuts ?? [];
};

/** Every file below `dir` with its content (for scanning a client's home for secrets). */
export const filesBelow = async (
  dir: string,
): Promise<ReadonlyArray<{ readonly path: string; readonly text: string }>> => {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  const files: Array<{ path: string; text: string }> = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.push({ path, text: await readFile(path, "utf8").catch(() => "") });
  }
  return files;
};
