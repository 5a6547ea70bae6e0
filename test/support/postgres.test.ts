/**
 * Tests of the throwaway PostgreSQL helper (postgres.ts): a durable cluster survives a crash restart, backends can be
 * terminated, the URL works over TCP, `fsync: false` is honoured, and no cluster outlives its test process — neither
 * after `stop()`, nor when the process is SIGKILLed (its guard cleans up), nor when the process and its guard are
 * killed together (the next start sweeps the leftovers).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PostgresServer, postgresUnavailableReason, startPostgres } from "./postgres.ts";
import { eventually, isRunning } from "./processes.ts";

const unavailable = postgresUnavailableReason();
const title = (name: string): string => (unavailable === undefined ? name : `${name} (skipped: ${unavailable})`);

/** A child test process that starts a cluster, prints its postmaster pid and directory, then waits to be killed. */
const CHILD = `
import { startPostgres } from ${JSON.stringify(new URL("./postgres.ts", import.meta.url).href)};
const server = await startPostgres({ fsync: false });
process.stdout.write(JSON.stringify({ pid: await server.postmasterPid(), root: server.socketDir }) + "\\n");
setInterval(() => {}, 1000);
`;

async function clusterInChildProcess(detached: boolean) {
  const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD], {
    stdio: ["ignore", "pipe", "inherit"],
    detached,
  });
  const line = await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next();
  if (line.done === true) throw new Error("the child process did not start a cluster");
  const parsed: unknown = JSON.parse(line.value);
  const pid = typeof parsed === "object" && parsed !== null ? Reflect.get(parsed, "pid") : undefined;
  const root = typeof parsed === "object" && parsed !== null ? Reflect.get(parsed, "root") : undefined;
  if (typeof pid !== "number" || typeof root !== "string") throw new Error(`unexpected line: ${line.value}`);
  return { child, pid, root };
}

describe.skipIf(unavailable !== undefined)(title("startPostgres"), () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("startPostgres - should keep rows committed from two connections across a crash restart, then remove everything on stop", async () => {
    const own = await startPostgres();
    expect(await own.query("SHOW fsync")).toEqual([{ fsync: "on" }]);
    await own.query("CREATE TABLE handoffs (id serial PRIMARY KEY, runner text NOT NULL)");
    const [first, second] = await Promise.all([own.connect(), own.connect()]);
    if (first === undefined || second === undefined) throw new Error("no connections");
    await Promise.all([
      first.query("INSERT INTO handoffs (runner) VALUES ($1)", ["first"]),
      second.query("INSERT INTO handoffs (runner) VALUES ($1)", ["second"]),
    ]);
    const before = await own.postmasterPid();

    await own.restart({ mode: "immediate" });

    expect(await own.postmasterPid()).not.toBe(before);
    expect(isRunning(before)).toBe(false);
    expect(await own.readLog()).toMatch(/received immediate shutdown request[\s\S]*database system was interrupted/);
    await expect(first.query("SELECT 1")).rejects.toThrow();
    const rows = await own.query<{ runner: string }>("SELECT runner FROM handoffs ORDER BY runner");
    expect(rows.map((row) => row.runner)).toEqual(["first", "second"]);

    const running = await own.postmasterPid();
    await own.stop();
    expect(isRunning(running)).toBe(false);
    expect(existsSync(own.dataDir)).toBe(false);
    expect(existsSync(own.socketDir)).toBe(false);
    await own.stop();
  });

  it("url - should let a client connect over TCP on 127.0.0.1", async () => {
    expect(server.url()).toBe(`postgres://postgres@127.0.0.1:${server.port}/postgres`);
    const client = new pg.Client({ connectionString: server.url() });
    await client.connect();
    try {
      const rows = (await client.query<{ address: string }>("SELECT host(inet_server_addr()) AS address")).rows;
      expect(rows).toEqual([{ address: "127.0.0.1" }]);
    } finally {
      await client.end();
    }
  });

  it("terminateBackend - should end exactly the connection of that backend", async () => {
    const victim = await server.connect();
    const bystander = await server.connect();
    const [{ pid } = { pid: 0 }] = (await victim.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows;

    expect(await server.terminateBackend(pid)).toBe(true);
    await expect(victim.query("SELECT 1")).rejects.toThrow();
    expect((await bystander.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    expect(await server.terminateBackend(pid)).toBe(false);
  });

  it("startPostgres({ fsync: false }) - should run without fsync for tests that never crash the machine", async () => {
    const fast = await startPostgres({ fsync: false, settings: { max_connections: 40 } });
    try {
      expect(await fast.query("SHOW fsync")).toEqual([{ fsync: "off" }]);
      expect(await fast.query("SHOW max_connections")).toEqual([{ max_connections: "40" }]);
    } finally {
      await fast.stop();
    }
  });

  it("cluster guard - should stop the cluster and remove its directory when the test process is killed", async () => {
    const { child, pid, root } = await clusterInChildProcess(false);
    expect(isRunning(pid)).toBe(true);
    child.kill("SIGKILL");

    expect(await eventually(() => !isRunning(pid) && !existsSync(root), 15_000)).toBe(true);
  });

  it("startPostgres - should sweep a cluster whose test process and guard were both killed", async () => {
    const { child, pid, root } = await clusterInChildProcess(true);
    const group = child.pid ?? 0;
    process.kill(-group, "SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    // pg_ctl starts the postmaster in a session of its own: it outlived the group.
    expect(isRunning(pid)).toBe(true);
    expect(existsSync(root)).toBe(true);

    const next = await startPostgres({ fsync: false });
    await next.stop();
    expect(await eventually(() => !isRunning(pid), 5000)).toBe(true);
    expect(existsSync(root)).toBe(false);
  });
});
