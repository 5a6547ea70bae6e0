/**
 * Throwaway PostgreSQL clusters for tests: `startPostgres()` creates a cluster in a fresh temporary directory and
 * starts it on a free port (about 0.7 s), on 127.0.0.1 or on a given address — also inside a network namespace (see
 * netns.ts) — and gives the test what it needs around it: a connection URL for the processes under test, SQL for the
 * test itself over the cluster's unix socket (which works from any network namespace), the server log, a crash
 * restart, backend termination, and a stop that removes everything.
 *
 * The server refuses to run as root, so `initdb` and `pg_ctl` run as the `postgres` OS user (`runuser`; the tests run
 * as root here and in CI). The binaries are Debian's postgresql-15 (installed by scripts/system-deps.sh).
 * Durability: `fsync` stays on unless `fsync: false` is asked for (faster, for tests that never crash the machine).
 * `initdb --no-sync` is used either way: it only skips flushing the fresh cluster's files, which a crash of the
 * server (as opposed to the machine) never loses.
 *
 * No server outlives its test process: `stop()` in afterAll; and a guard process per cluster
 * (scripts/postgres/cluster-guard.sh) that stops the cluster and removes its directory as soon as the test process
 * ends, however it ends (its stdin is a pipe from this process, closed by the kernel at exit). Directories left by
 * test processes that died with their guard (SIGKILL of the whole group) are swept at the next start: only clusters
 * of this helper (`baton-pg-<owner pid>-…`) whose owner is gone, stopped through their own postmaster.pid.
 *
 * `pg` (node-postgres) is the client: the most used PostgreSQL driver for Node, the one the product's PostgreSQL
 * store uses as well.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { appendFile, chown, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { isRunning } from "./processes.ts";

const ROOT_PREFIX = "baton-pg-";
const GUARD = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "scripts", "postgres", "cluster-guard.sh");
const OS_USER = "postgres";

export interface PostgresOptions {
  /** The address to listen on (`listen_addresses`). Default 127.0.0.1. */
  readonly host?: string;
  /** The TCP port. Default: a port free on 127.0.0.1. */
  readonly port?: number;
  /** Run the server inside this network namespace (`ip netns exec NAME`); `host` is then one of its addresses. */
  readonly netns?: string;
  /** `fsync` (and with it `synchronous_commit` and `full_page_writes`). Default true: durable commits. */
  readonly fsync?: boolean;
  /** More server settings, each passed as `-c name=value`. */
  readonly settings?: Readonly<Record<string, string | number>>;
}

export type ShutdownMode = "smart" | "fast" | "immediate";

export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  /** The directory of the unix socket; also the parent of the data directory and the log. */
  readonly socketDir: string;
  readonly dataDir: string;
  readonly logPath: string;
  /** `postgres://postgres@HOST:PORT/DATABASE` (trust authentication, no password). */
  url(database?: string): string;
  /** The process id of the running postmaster (it changes with every restart). */
  postmasterPid(): Promise<number>;
  /** Runs one statement on a fresh connection over the unix socket and returns its rows. */
  query<Row extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<Row[]>;
  /** A connection over the unix socket, closed by `stop()`. Errors from a server that went away are ignored. */
  connect(database?: string): Promise<pg.Client>;
  /** `pg_terminate_backend(pid)`: true when a backend with that pid was signalled. */
  terminateBackend(pid: number): Promise<boolean>;
  /** `pg_ctl restart -m MODE` (default immediate: a crash, then recovery from the WAL); waits until it accepts. */
  restart(options?: { readonly mode?: ShutdownMode }): Promise<void>;
  readLog(): Promise<string>;
  /** Stops the server (fast shutdown) and removes its directory. Safe to call more than once. */
  stop(): Promise<void>;
}

export class PostgresUnavailable extends Error {}

/** Why PostgreSQL clusters cannot be started here, or undefined when they can. */
export function postgresUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (initdb and pg_ctl run as the postgres user through runuser)";
  if (findBinDir() === undefined) return "PostgreSQL server binaries are missing: run scripts/system-deps.sh";
  return undefined;
}

/** Debian's postgresql-15 binaries, else the newest other version Debian installed side by side. */
function findBinDir(): string | undefined {
  const versions = existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql") : [];
  const candidates = [
    "15",
    ...versions.filter((version) => /^\d+$/.test(version)).sort((a, b) => Number(b) - Number(a)),
  ];
  return candidates
    .map((version) => `/usr/lib/postgresql/${version}/bin`)
    .find((binDir) => ["initdb", "pg_ctl", "postgres"].every((tool) => existsSync(join(binDir, tool))));
}

function run(command: string, args: readonly string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) => {
      if (error === null) {
        resolve(stdout);
        return;
      }
      reject(new PostgresUnavailable(`${[command, ...args].join(" ")} failed: ${stderr.trim() || error.message}`));
    });
  });
}

/** Stops and removes clusters of earlier test processes that died with their guard. */
async function sweepStaleClusters(binDir: string): Promise<void> {
  const entries = await readdir(tmpdir()).catch(() => []);
  for (const name of entries) {
    const owner = /^baton-pg-(\d+)-/.exec(name)?.[1];
    if (owner === undefined || isRunning(Number(owner))) continue;
    const root = join(tmpdir(), name);
    if (existsSync(join(root, "data", "postmaster.pid"))) {
      await run(
        "runuser",
        ["-u", OS_USER, "--", join(binDir, "pg_ctl"), "-D", join(root, "data"), "stop", "-m", "immediate", "-w"],
        "/",
      ).catch(() => undefined);
    }
    await rm(root, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function serverOptions(host: string, port: number, socketDir: string, options: PostgresOptions): string {
  const durability =
    options.fsync === false ? { fsync: "off", synchronous_commit: "off", full_page_writes: "off" } : {};
  const settings: Record<string, string | number> = { listen_addresses: host, ...durability, ...options.settings };
  const flags = Object.entries(settings).map(([name, value]) => {
    const text = String(value);
    if (!/^[\w.]+$/.test(name) || text.includes("'")) throw new RangeError(`bad PostgreSQL setting ${name}=${text}`);
    return `-c ${name}='${text}'`;
  });
  // pg_ctl hands this string to a shell; the paths come from mkdtemp and hold no spaces or quotes.
  return [`-p ${port}`, `-k ${socketDir}`, ...flags].join(" ");
}

function startGuard(root: string, binDir: string): ChildProcess {
  const guard = spawn(GUARD, [root, binDir], { cwd: "/", stdio: ["pipe", "ignore", "ignore"] });
  guard.unref();
  // The pipe must not keep this process alive: the kernel closes it when this process ends, and the guard acts.
  if (guard.stdin instanceof Socket) guard.stdin.unref();
  return guard;
}

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const unavailable = postgresUnavailableReason();
  const binDir = findBinDir();
  if (unavailable !== undefined || binDir === undefined) throw new PostgresUnavailable(unavailable);
  await sweepStaleClusters(binDir);

  const root = await mkdtemp(join(tmpdir(), `${ROOT_PREFIX}${process.pid}-`));
  const guard = startGuard(root, binDir);
  const guardExited = new Promise<void>((resolve) => guard.once("exit", () => resolve()));
  const removeAll = async (): Promise<void> => {
    // Waiting for the guard must keep this process alive (it was unref'd so that it would not otherwise).
    guard.ref();
    guard.stdin?.end();
    await guardExited;
    await rm(root, { recursive: true, force: true });
  };

  const host = options.host ?? "127.0.0.1";
  const dataDir = join(root, "data");
  const logPath = join(root, "server.log");
  const wrap = options.netns === undefined ? [] : ["ip", "netns", "exec", options.netns];
  const asPostgres = (tool: string, args: readonly string[]): Promise<string> => {
    const [command = "runuser", ...rest] = [...wrap, "runuser", "-u", OS_USER, "--", join(binDir, tool), ...args];
    return run(command, rest, root);
  };
  let port: number;
  try {
    await chown(root, Number(await run("id", ["-u", OS_USER], "/")), Number(await run("id", ["-g", OS_USER], "/")));
    port = options.port ?? (await freePort());
    await asPostgres("initdb", ["-D", dataDir, "-U", OS_USER, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
    // initdb trusts loopback only; clients on the server's own subnets (other network namespaces) are trusted too.
    await appendFile(join(dataDir, "pg_hba.conf"), "host all all samenet trust\n");
    const serverFlags = serverOptions(host, port, root, options);
    await asPostgres("pg_ctl", ["-D", dataDir, "-l", logPath, "-o", serverFlags, "-w", "-t", "60", "start"]);
  } catch (error) {
    const log = await readFile(logPath, "utf8").catch(() => "");
    await removeAll();
    const reason = error instanceof Error ? error.message : String(error);
    throw new PostgresUnavailable(`${reason}${log === "" ? "" : `\nserver log:\n${log.slice(-2000)}`}`);
  }
  const clients = new Set<pg.Client>();
  let stopped: Promise<void> | undefined;

  const socketConfig = (database: string): pg.ClientConfig => ({ host: root, port, user: OS_USER, database });
  const server: PostgresServer = {
    host,
    port,
    socketDir: root,
    dataDir,
    logPath,
    url: (database = "postgres") => `postgres://${OS_USER}@${host}:${port}/${database}`,
    postmasterPid: async () => Number((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]),
    query: async <Row extends pg.QueryResultRow>(sql: string, values?: unknown[]) => {
      const client = new pg.Client(socketConfig("postgres"));
      client.on("error", () => undefined);
      await client.connect();
      try {
        return (await client.query<Row>(sql, values)).rows;
      } finally {
        await client.end();
      }
    },
    connect: async (database = "postgres") => {
      const client = new pg.Client(socketConfig(database));
      client.on("error", () => undefined);
      await client.connect();
      clients.add(client);
      client.once("end", () => clients.delete(client));
      return client;
    },
    terminateBackend: async (pid) => {
      const rows = await server.query<{ terminated: boolean }>("SELECT pg_terminate_backend($1) AS terminated", [pid]);
      return rows[0]?.terminated === true;
    },
    restart: async ({ mode = "immediate" } = {}) => {
      await asPostgres("pg_ctl", ["-D", dataDir, "-l", logPath, "-m", mode, "-w", "-t", "60", "restart"]);
    },
    readLog: () => readFile(logPath, "utf8"),
    stop: () => {
      stopped ??= (async () => {
        await Promise.all([...clients].map((client) => client.end().catch(() => undefined)));
        await asPostgres("pg_ctl", ["-D", dataDir, "-m", "fast", "-w", "-t", "60", "stop"]).catch(() => undefined);
        await removeAll();
      })();
      return stopped;
    },
  };
  return server;
}
