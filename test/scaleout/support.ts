/**
 * Many "machines" sharing one PostgreSQL store, for the scale-out tests: each machine is its own BATON_HOME and
 * BATON_MACHINE_ID, and the machines share nothing but BATON_STORE (a fresh database of a throwaway cluster,
 * test/support/postgres.ts) and its key (random per store). An account is logged in once, through machine 0, the way a
 * user does (test/support/account.ts); every other machine then sees it with nothing else configured.
 */
import { randomBytes } from "node:crypto";
import { StoreKey } from "@baton/adapters";
import type { AuthorizationServer } from "@baton/devserver";
import pg from "pg";
import { loginHeadless, REF, type ReplayJson, type StatusJson, sleep } from "../support/account.ts";
import { type BatonResult, runBaton, startBaton, tempHome } from "../support/baton-cli.ts";
import type { PostgresServer } from "../support/postgres.ts";

export interface Machine {
  readonly name: string;
  readonly home: string;
  /** The environment of a `baton` process on this machine. */
  readonly env: Readonly<Record<string, string>>;
}

export interface SharedStore {
  readonly url: string;
  readonly database: string;
  /** The key as BATON_STORE_KEY takes it (hex). Never printed. */
  readonly keyHex: string;
  readonly machines: ReadonlyArray<Machine>;
  readonly cleanup: () => Promise<void>;
}

/** A fresh database on `server` (its own store and key) and `count` machines that share it. */
export const sharedStore = async (server: PostgresServer, count: number, host = server.host): Promise<SharedStore> => {
  const database = `scaleout_${randomBytes(5).toString("hex")}`;
  await server.query(`CREATE DATABASE ${database}`);
  const url = `postgres://postgres@${host}:${server.port}/${database}`;
  const keyHex = StoreKey.generateStoreKey().bytes.toString("hex");
  const homes = await Promise.all(Array.from({ length: count }, () => tempHome()));
  const machines = homes.map(({ home }, index) => ({
    name: `machine-${index}`,
    home,
    env: { BATON_STORE: url, BATON_STORE_KEY: keyHex, BATON_MACHINE_ID: `machine-${index}` },
  }));
  return {
    url,
    database,
    keyHex,
    machines,
    cleanup: async () => {
      await Promise.all(homes.map((h) => h.cleanup()));
    },
  };
};

/** Runs one statement in `database` of `server` (a connection of its own) and returns the rows. */
export const sql = async <Row extends pg.QueryResultRow>(
  server: PostgresServer,
  database: string,
  text: string,
  values: unknown[] = [],
): Promise<Row[]> => {
  // Over the unix socket: it works whichever network namespace the server listens in.
  const client = new pg.Client({ host: server.socketDir, port: server.port, user: "postgres", database });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return (await client.query<Row>(text, values)).rows;
  } finally {
    await client.end();
  }
};

/** `baton ARGS` on `machine`. */
export const on = (
  machine: Machine,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {},
): Promise<BatonResult> => runBaton(args, { home: machine.home, env: { ...machine.env, ...env }, timeoutMs: 90_000 });

/** Registers the provider and logs `demo:you` in, on `machine` (generation 1 in the shared store). */
export const loginOn = async (
  machine: Machine,
  server: Pick<AuthorizationServer, "issuer" | "clientId" | "scopes">,
  options: { readonly graceWindowSeconds?: number } = {},
): Promise<void> => {
  const args = ["provider", "add", "demo", "--issuer", server.issuer, "--client-id", server.clientId];
  args.push("--scope", server.scopes);
  if (options.graceWindowSeconds !== undefined) args.push("--grace-window", String(options.graceWindowSeconds));
  const added = await on(machine, args);
  if (added.code !== 0) throw new Error(`provider add failed: ${added.stderr}`);
  await loginHeadless(machine.home, REF, machine.env);
};

const jsonOn = async <T>(machine: Machine, args: ReadonlyArray<string>): Promise<T> => {
  const result = await on(machine, args);
  if (result.code !== 0) throw new Error(`baton ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
};

/** `status demo:you --json` seen from `machine`. */
export const statusOn = async (machine: Machine): Promise<StatusJson> => {
  const parsed = await jsonOn<{ accounts: ReadonlyArray<StatusJson> }>(machine, ["status", REF, "--json"]);
  const found = parsed.accounts[0];
  if (found === undefined) throw new Error("status --json has no account");
  return found;
};

/** `replay demo:you --json` seen from `machine`. */
export const replayOn = async (machine: Machine): Promise<ReplayJson> => {
  const parsed = await jsonOn<{ accounts: ReadonlyArray<ReplayJson> }>(machine, ["replay", REF, "--json"]);
  const found = parsed.accounts[0];
  if (found === undefined) throw new Error("replay --json has no account");
  return found;
};

/** Waits until the account's access token has expired (its expiry as `status` shows it), plus `marginMs`. */
export const untilExpired = async (machine: Machine, marginMs = 50): Promise<void> => {
  const before = await statusOn(machine);
  if (before.expiresAt === null) throw new Error("the account has no expiry");
  await sleep(before.expiresAt - Date.now() + marginMs);
};

/** `baton token demo:you` on each of `machines` × `perMachine` processes, all started at once. */
export const herdOn = async (machines: ReadonlyArray<Machine>, perMachine: number) =>
  Promise.all(
    machines.flatMap((machine) =>
      Array.from(
        { length: perMachine },
        () => startBaton(["token", REF], { home: machine.home, env: machine.env, timeoutMs: 90_000 }).done,
      ),
    ),
  );

/**
 * `baton token demo:you` (or `baton ARGS`) on `machine` with `BATON_TEST_HOOK=<hook>` (the test-only build with
 * protocol hooks); `reached` resolves when it announces the hook's point on stderr.
 */
export const hookedOn = (
  machine: Machine,
  hook: string,
  env: Readonly<Record<string, string>> = {},
  args: ReadonlyArray<string> = ["token", REF],
) => {
  const point = hook.split(":")[0] ?? hook;
  let announced = "";
  let reach: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => {
    reach = resolve;
  });
  const started = startBaton(args, {
    home: machine.home,
    env: { ...machine.env, ...env, BATON_TEST_HOOK: hook },
    timeoutMs: 90_000,
    onStderr: (text) => {
      announced += text;
      if (announced.includes(`BATON_HOOK ${point}\n`)) reach();
    },
  });
  const failed = started.done.then((result) => {
    throw new Error(`the hooked process ended before ${point}: exit ${result.code}: ${result.stderr}`);
  });
  failed.catch(() => undefined);
  return { child: started.child, done: started.done, reached: Promise.race([reached, failed]) };
};
