/**
 * Helpers for the end-to-end tests of every CLI command (test/cli/): a session that runs `baton` against one
 * BATON_HOME and keeps every output it saw (to scan them for tokens afterwards), a headless login that returns the
 * login's own outputs, and fixtures written straight into the file stores for what a test cannot wait for — an
 * account whose last event is days old, a session or lock left by a process that is gone, a damaged event log.
 */
import { spawnSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { FileEventStore, FileSecretStore } from "@baton/adapters";
import { type AccountRef, accountKey, type Credentials, fingerprint, type NewAccountEvent } from "@baton/core";
import { approveAuthorization } from "@baton/devserver";
import { Effect } from "effect";
import { type BatonOptions, type BatonResult, runBaton, startBaton } from "./baton-cli.ts";

export const DAY_MS = 24 * 60 * 60 * 1000;

export interface Recorded extends BatonResult {
  readonly args: ReadonlyArray<string>;
}

/** Runs `baton` on one home and records every result; `secretsIn` lists outputs that must stay token-free. */
export const cliSession = (home: string, env: Readonly<Record<string, string>> = {}) => {
  const results: Array<Recorded> = [];
  const run = async (args: ReadonlyArray<string>, options: Omit<BatonOptions, "home"> = {}): Promise<Recorded> => {
    const result = await runBaton(args, {
      timeoutMs: 60_000,
      ...options,
      home,
      env: { ...env, ...options.env },
    });
    const recorded = { ...result, args };
    results.push(recorded);
    return recorded;
  };
  /** Every stdout and stderr seen, except the stdout of `baton token` (the one place a token may appear). */
  const outputs = () =>
    results.flatMap((r) => [
      { what: `baton ${r.args.join(" ")} (stderr)`, text: r.stderr },
      ...(r.args[0] === "token" ? [] : [{ what: `baton ${r.args.join(" ")} (stdout)`, text: r.stdout }]),
    ]);
  return { home, run, results, outputs };
};

/** Where each of `secrets` appears in `outputs` (an empty list is the expected answer). */
export const leaks = (
  outputs: ReadonlyArray<{ readonly what: string; readonly text: string }>,
  secrets: Iterable<string>,
): ReadonlyArray<string> =>
  [...secrets]
    .filter((secret) => secret.length >= 8)
    .flatMap((secret) =>
      outputs.filter((o) => o.text.includes(secret)).map((o) => `${fingerprint(secret)} in ${o.what}`),
    );

/** Runs `baton ARGS` with `input` on its stdin. */
export const runBatonWithInput = async (
  args: ReadonlyArray<string>,
  input: string,
  options: { readonly home: string; readonly env?: Readonly<Record<string, string>> },
): Promise<Recorded> => ({ ...(await runBaton(args, { ...options, input, timeoutMs: 60_000 })), args });

/** `baton login REF --no-browser`, approving the printed URL as the user's browser would; returns its outputs. */
export const loginWithCli = async (home: string, ref: string): Promise<Recorded> => {
  let approval: Promise<unknown> | undefined;
  let buffered = "";
  const { done } = startBaton(["login", ref, "--no-browser"], {
    home,
    timeoutMs: 30_000,
    onStderr: (text) => {
      buffered += text;
      const url = /^(https?:\/\/\S+)\n/m.exec(buffered)?.[1];
      if (approval === undefined && url !== undefined) {
        approval = approveAuthorization(url, { deliver: true }).catch((error: unknown) => error);
      }
    },
  });
  const result = await done;
  const approved = await approval;
  if (approved instanceof Error) throw new Error(`approving the login failed: ${approved.message}`);
  return { ...result, args: ["login", ref, "--no-browser"] };
};

/** The pid of a process that has exited (and been reaped), for records left behind by a crash. */
export const deadPid = (): number => {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(child.stdout);
};

export interface AgedAccount {
  readonly ref: AccountRef;
  readonly issuer: string;
  readonly clientId: string;
  /** How long ago the account's events happened. */
  readonly ageMs: number;
  /** What happened last: a rejected refresh (revoked), or nothing after the access token expired. */
  readonly ending: "revoked" | "expired";
  readonly refreshToken?: string | undefined;
  /** Add a failed refresh before the end (a persistent error). */
  readonly failedRefresh?: boolean;
}

/** Writes an account's secret record and event stream as if it had been in use `ageMs` ago. */
export const writeAgedAccount = async (home: string, aged: AgedAccount): Promise<void> => {
  const at = Date.now() - aged.ageMs;
  const accessToken = `aged-access-${accountKey(aged.ref)}-${at}`;
  const credentials: Credentials = {
    version: 1,
    account: accountKey(aged.ref),
    generation: 1,
    accessToken,
    ...(aged.refreshToken === undefined ? {} : { refreshToken: aged.refreshToken }),
    tokenType: "Bearer",
    expiresAt: at + 60_000,
    obtainedAt: at,
    issuer: aged.issuer,
    clientId: aged.clientId,
  };
  const stamp = { v: 1 as const, host: hostname(), pid: 4242 };
  const events: Array<NewAccountEvent> = [
    {
      ...stamp,
      at,
      type: "credentials.stored",
      generation: 1,
      source: "login",
      accessFp: fingerprint(accessToken),
      ...(aged.refreshToken === undefined ? {} : { refreshFp: fingerprint(aged.refreshToken) }),
      expiresAt: at + 60_000,
    },
  ];
  if (aged.failedRefresh === true) {
    events.push({ ...stamp, at: at + 120_000, type: "refresh.failed", generation: 1, reason: "server-error" });
  }
  if (aged.ending === "revoked") {
    events.push(
      { ...stamp, at: at + 180_000, type: "refresh.rejected", generation: 1, error: "invalid_grant" },
      { ...stamp, at: at + 180_000, type: "account.revoked", generation: 1, reason: "invalid_grant" },
    );
  }
  await Effect.runPromise(FileSecretStore.make({ home }).write(aged.ref, credentials, 0));
  await Effect.runPromise(FileEventStore.make({ home }, stamp).append(aged.ref, events));
};

/** A session record of `ref` whose process is gone (as after a crash of `baton exec`). */
export const writeOrphanSession = async (home: string, ref: AccountRef): Promise<number> => {
  const pid = deadPid();
  const record = { account: accountKey(ref), host: hostname(), pid, kind: "exec", startedAt: 1, seenAt: 1 };
  await mkdir(join(home, "sessions"), { recursive: true, mode: 0o700 });
  const name = `${hostname()}-${pid}-${accountKey(ref).replace(":", "~")}.json`.replace(/[^A-Za-z0-9._~-]/g, "_");
  await writeFile(join(home, "sessions", name), JSON.stringify(record), { mode: 0o600 });
  return pid;
};

/** A `refresh.lock` left by a holder that died without releasing it. */
export const writeDeadLock = async (home: string, ref: AccountRef): Promise<number> => {
  const pid = deadPid();
  const dir = join(home, "accounts", ref.provider, ref.account, "refresh.lock");
  await mkdir(dir, { mode: 0o700 });
  await writeFile(join(dir, "owner.json"), JSON.stringify({ host: hostname(), pid, nonce: "0badc0de0badc0de" }), {
    mode: 0o600,
  });
  return pid;
};
