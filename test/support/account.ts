/**
 * Setting up an account the way a user does, through the real CLI: `baton provider add` (discovery against the local
 * authorization server), then `baton login --no-browser` with the URL read from its stderr and approved by the
 * devserver's headless user (acting as the browser). Plus small readers of `status --json`, `replay --json` and the
 * file store, and a herd runner: N `baton token` processes started at once on one BATON_HOME.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { AccountStatus } from "@baton/core";
import { type AuthorizationServer, approveAuthorization } from "@baton/devserver";
import { type BatonOptions, type BatonResult, runBaton, startBaton, tempHome } from "./baton-cli.ts";

export const PROVIDER = "demo";
export const ACCOUNT = "you";
export const REF = `${PROVIDER}:${ACCOUNT}`;

/** A fresh BATON_HOME with `demo:you` logged in against `server`. */
export interface LoggedInAccount {
  readonly home: string;
  readonly ref: string;
  readonly cleanup: () => Promise<void>;
}

const fail = (what: string, result: BatonResult): never => {
  throw new Error(`${what} exited ${result.code} (signal ${result.signal}): ${result.stderr.trim()}`);
};

/** `baton provider add demo --issuer … --client-id … --scope … [--grace-window N]`. */
export const addProvider = async (
  home: string,
  server: AuthorizationServer,
  options: { readonly graceWindowSeconds?: number } = {},
): Promise<void> => {
  const args = ["provider", "add", PROVIDER, "--issuer", server.issuer, "--client-id", server.clientId];
  args.push("--scope", server.scopes);
  if (options.graceWindowSeconds !== undefined) args.push("--grace-window", String(options.graceWindowSeconds));
  const result = await runBaton(args, { home, timeoutMs: 30_000 });
  if (result.code !== 0) fail("baton provider add", result);
};

/**
 * `baton login REF --no-browser`: waits for the authorization URL on stderr and approves it as the user's browser
 * would (following the redirects and delivering the code to baton's loopback listener). Returns the redirect URL it
 * delivered (with the authorization code, for scans that look for it where it must not be).
 */
export const loginHeadless = async (
  home: string,
  ref = REF,
  env: Readonly<Record<string, string>> = {},
): Promise<string> => {
  let approval: Promise<unknown> | undefined;
  let buffered = "";
  const { done } = startBaton(["login", ref, "--no-browser"], {
    home,
    env,
    timeoutMs: 30_000,
    onStderr: (text) => {
      buffered += text;
      if (approval !== undefined) return;
      const url = /^(https?:\/\/\S+)$/m.exec(buffered)?.[1];
      if (url !== undefined && buffered.slice(buffered.indexOf(url) + url.length).includes("\n")) {
        approval = approveAuthorization(url, { deliver: true }).catch((error: unknown) => error);
      }
    },
  });
  const result = await done;
  const approved = await approval;
  if (approved instanceof Error) throw new Error(`approving the login failed: ${approved.message}`);
  if (approval === undefined) throw new Error(`baton login printed no URL: ${result.stderr.trim()}`);
  if (result.code !== 0) fail("baton login", result);
  return String(approved);
};

/** A temporary BATON_HOME with the provider registered and `demo:you` logged in (generation 1). */
export const loggedInAccount = async (
  server: AuthorizationServer,
  options: { readonly graceWindowSeconds?: number } = {},
): Promise<LoggedInAccount> => {
  const { home, cleanup } = await tempHome();
  try {
    await addProvider(home, server, options);
    await loginHeadless(home);
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { home, ref: REF, cleanup };
};

// ------------------------------------------------------------------------------------------------ reading state

/** One account of `status --json` (the core's AccountStatus, as JSON). */
/** One account of `status --json`: the core's AccountStatus plus the CLI's default flag and session count. */
export type StatusJson = AccountStatus & { readonly default: boolean; readonly sessions: number };

export interface ReplayEvent {
  readonly seq: number;
  readonly type: string;
  readonly at: number;
  readonly host: string;
  readonly pid: number;
  readonly generation?: number;
  readonly attempt?: number;
  readonly source?: string;
  readonly reason?: string;
  readonly waitedMs?: number;
  readonly claimant?: { readonly host: string; readonly pid: number; readonly at: number };
  readonly [field: string]: unknown;
}

export interface ReplayJson {
  readonly account: string;
  readonly state: string;
  readonly summary: {
    readonly events: number;
    readonly refreshes: number;
    readonly claims: number;
    readonly revoked: number;
    readonly inDoubt: number;
    readonly lockWaits: number;
  };
  readonly anomalies: ReadonlyArray<{ readonly seq: number; readonly kind: string; readonly detail: string }>;
  readonly events: ReadonlyArray<ReplayEvent>;
}

const jsonOf = async <T>(
  args: ReadonlyArray<string>,
  home: string,
  env: Readonly<Record<string, string>> = {},
): Promise<T> => {
  const result = await runBaton(args, { home, env, timeoutMs: 30_000 });
  if (result.code !== 0) fail(`baton ${args.join(" ")}`, result);
  return JSON.parse(result.stdout) as T;
};

/** `baton status REF --json`, the one account. */
export const status = async (
  home: string,
  ref = REF,
  env: Readonly<Record<string, string>> = {},
): Promise<StatusJson> => {
  const parsed = await jsonOf<{ accounts: ReadonlyArray<StatusJson> }>(["status", ref, "--json"], home, env);
  const found = parsed.accounts.find((a) => a.account === ref);
  if (found === undefined) throw new Error(`status --json has no ${ref}`);
  return found;
};

/** `baton replay REF --json`, the one account. */
export const replayOf = async (
  home: string,
  ref = REF,
  env: Readonly<Record<string, string>> = {},
): Promise<ReplayJson> => {
  const parsed = await jsonOf<{ accounts: ReadonlyArray<ReplayJson> }>(["replay", ref, "--json"], home, env);
  const found = parsed.accounts.find((a) => a.account === ref);
  if (found === undefined) throw new Error(`replay --json has no ${ref}`);
  return found;
};

/** `baton token REF`. */
export const token = (home: string, ref = REF, options: Omit<BatonOptions, "home"> = {}): Promise<BatonResult> =>
  runBaton(["token", ref], { ...options, home });

export const accountDir = (home: string, ref = REF) => join(home, "accounts", ...ref.split(":"));

/** The secret record as stored (parsed JSON), for "never blanked" checks. Never print it: it holds tokens. */
export const readSecretRecord = async (home: string): Promise<Record<string, unknown>> =>
  JSON.parse(await readFile(join(accountDir(home), "secret.json"), "utf8")) as Record<string, unknown>;

/** The names in the account's claims/ directory, sorted. */
export const claimFiles = async (home: string, ref = REF): Promise<ReadonlyArray<string>> =>
  (await readdir(join(accountDir(home, ref), "claims")).catch(() => [] as Array<string>)).sort();

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Waits until the stored access token's expiresAt (from `status --json`) has passed, plus `marginMs`. */
export const waitUntilExpired = async (
  home: string,
  marginMs = 50,
  ref = REF,
  env: Readonly<Record<string, string>> = {},
): Promise<StatusJson> => {
  const before = await status(home, ref, env);
  if (before.expiresAt === null) throw new Error("the account has no expiry");
  await sleep(before.expiresAt - Date.now() + marginMs);
  return before;
};

// ------------------------------------------------------------------------------------------------ herds and hooks

export interface HerdResult {
  readonly results: ReadonlyArray<BatonResult & { readonly endedAt: number }>;
  /** Wall-clock time (ms since the epoch) of the first spawn, to compare with event times. */
  readonly startedAt: number;
  /** From the first spawn to the last process's exit (it printed its token just before). */
  readonly lastHeldMs: number;
  /** From the first spawn to the last spawn returning. */
  readonly spawnMs: number;
  /** Between the first and the last exit. */
  readonly exitSpreadMs: number;
}

/** Starts `count` `baton token REF` processes at once on `home` and waits for all of them. */
export const herd = async (
  home: string,
  count: number,
  options: { readonly env?: Readonly<Record<string, string>>; readonly timeoutMs?: number } = {},
): Promise<HerdResult> => {
  const startedAt = Date.now();
  const start = performance.now();
  const runs = Array.from({ length: count }, () => {
    const { done } = startBaton(["token", REF], {
      home,
      timeoutMs: options.timeoutMs ?? 90_000,
      ...(options.env === undefined ? {} : { env: options.env }),
    });
    return done.then((result) => ({ ...result, endedAt: performance.now() }));
  });
  const spawnMs = performance.now() - start;
  const results = await Promise.all(runs);
  const ends = results.map((r) => r.endedAt);
  return {
    results,
    startedAt,
    lastHeldMs: Math.max(...ends) - start,
    spawnMs,
    exitSpreadMs: Math.max(...ends) - Math.min(...ends),
  };
};

/**
 * Starts `baton ARGS` with `BATON_TEST_HOOK=<hook>` and resolves `reached` when the process announces
 * `BATON_HOOK <point>` on stderr (the point is the part of `hook` before the first colon).
 */
export const startHooked = (args: ReadonlyArray<string>, home: string, hook: string, timeoutMs = 90_000) => {
  const point = hook.split(":")[0] ?? hook;
  let announced = "";
  let resolveReached: (at: number) => void = () => undefined;
  const reached = new Promise<number>((resolve) => {
    resolveReached = resolve;
  });
  const started = startBaton(args, {
    home,
    timeoutMs,
    env: { BATON_TEST_HOOK: hook },
    onStderr: (text) => {
      announced += text;
      if (announced.includes(`BATON_HOOK ${point}\n`)) resolveReached(performance.now());
    },
  });
  // A process that exits without reaching the point makes `reached` reject, so a test never waits forever.
  const neverReached = started.done.then((result) => {
    throw new Error(`the process exited ${result.code} before reaching ${point}: ${result.stderr.trim()}`);
  });
  return { ...started, reached: Promise.race([reached, neverReached]) };
};
