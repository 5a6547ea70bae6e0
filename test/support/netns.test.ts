/**
 * Tests of the network-namespace helper (netns.ts): two hosts talk TCP over the private network; a cut makes an
 * established connection hang (no RST, no error) and new connections time out; a restore lets the same connection
 * carry on; PostgreSQL runs inside one host on its address and is reached from the other; and namespaces never
 * outlive their test process (exit hook, sweep of a killed process's namespaces).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { dirname } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNetwork, type NetworkHost, netnsUnavailableReason, type TestNetwork } from "./netns.ts";
import { type PostgresServer, postgresUnavailableReason, startPostgres } from "./postgres.ts";

const unavailable = netnsUnavailableReason() ?? postgresUnavailableReason();
const title = (name: string): string => (unavailable === undefined ? name : `${name} (skipped: ${unavailable})`);
const ECHO_PORT = 7007;
const TEST_DIRECTORY = dirname(dirname(fileURLToPath(import.meta.url)));

const ECHO_SERVER = `
import { createServer } from "node:net";
const server = createServer((socket) => socket.pipe(socket));
server.listen(${ECHO_PORT}, process.argv[1], () => process.stdout.write("listening\\n"));
process.stdin.on("end", () => process.exit(0)).resume();
`;

/** Reads commands on stdin (connect, send TEXT, probe, sql URL) and reports events as lines on stdout. */
const CLIENT = `
import { connect } from "node:net";
import { createInterface } from "node:readline";
const [host, port] = [process.argv[1], Number(process.argv[2])];
const say = (line) => process.stdout.write(line + "\\n");
let socket;
for await (const line of createInterface({ input: process.stdin })) {
  const [command, ...rest] = line.split(" ");
  if (command === "connect") {
    socket = connect(port, host, () => say("connected"));
    socket.setEncoding("utf8");
    socket.on("data", (text) => say("data:" + text));
    socket.on("error", (error) => say("error:" + error.code));
    socket.on("close", () => say("close"));
  } else if (command === "send") {
    socket.write(rest.join(" "));
  } else if (command === "probe") {
    const probe = connect(port, host, () => { say("probe:connected"); probe.destroy(); });
    probe.setTimeout(1000, () => { say("probe:timeout"); probe.destroy(); });
    probe.on("error", (error) => say("probe:error:" + error.code));
  } else if (command === "sql") {
    const { default: pg } = await import("pg");
    const client = new pg.Client({ connectionString: rest[0], connectionTimeoutMillis: 1500 });
    client.on("error", () => {});
    try {
      await client.connect();
      const { rows } = await client.query("SELECT host(inet_server_addr()) AS server, host(inet_client_addr()) AS client");
      say("sql:" + JSON.stringify(rows[0]));
      await client.end();
    } catch (error) {
      say("sql:error:" + error.message);
    }
  }
}
`;

/** A child process speaking lines: `waitFor` resolves with the first line (old or new) matching, or "timeout". */
function lineChild(child: ChildProcess) {
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  if (child.stdout === null) throw new Error("the child has no stdout pipe");
  createInterface({ input: child.stdout }).on("line", (line) => {
    lines.push(line);
    for (const wake of waiters) wake();
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const waitFor = (pattern: RegExp, timeoutMs: number): Promise<string> =>
    new Promise((resolve) => {
      const check = (): boolean => {
        const index = lines.findIndex((line) => pattern.test(line));
        if (index === -1) return false;
        const [line = ""] = lines.splice(index, 1);
        waiters.delete(wake);
        clearTimeout(timer);
        resolve(line);
        return true;
      };
      const wake = (): void => void check();
      const timer = setTimeout(() => {
        waiters.delete(wake);
        resolve(`timeout (stderr: ${stderr.trim()})`);
      }, timeoutMs);
      waiters.add(wake);
      check();
    });
  const send = (line: string): void => void child.stdin?.write(`${line}\n`);
  return { waitFor, send, lines };
}

function nodeIn(host: NetworkHost, script: string, args: readonly string[]): ChildProcess {
  return host.spawn(process.execPath, ["--input-type=module", "-e", script, ...args], {
    cwd: TEST_DIRECTORY,
    stdio: ["pipe", "pipe", "pipe"],
  });
}

describe.skipIf(unavailable !== undefined)(title("createNetwork"), () => {
  let network: TestNetwork;
  beforeAll(async () => {
    network = await createNetwork({ hosts: 2 });
  });
  afterAll(async () => {
    await network?.dispose();
  });

  it("createNetwork - should give each host lo, its address on the subnet, and no route anywhere else", async () => {
    const [a, b] = network.hosts;
    if (a === undefined || b === undefined) throw new Error("two hosts expected");
    expect([a.address, b.address]).toEqual(["10.231.0.1", "10.231.0.2"]);
    expect(await a.run("ip", ["-4", "-o", "address", "show"])).toMatch(
      /lo\s+inet 127\.0\.0\.1[\s\S]*eth0\s+inet 10\.231\.0\.1\/24/,
    );
    expect((await b.run("ip", ["route", "show"])).trim()).toBe(
      "10.231.0.0/24 dev eth0 proto kernel scope link src 10.231.0.2",
    );
    expect(a.name).toMatch(new RegExp(`^baton-${process.pid}-\\d+-h0$`));
  });

  it("cut - should make an established TCP connection hang without a reset, and restore should let it carry on", async () => {
    const [a, b] = network.hosts;
    if (a === undefined || b === undefined) throw new Error("two hosts expected");
    const server = nodeIn(a, ECHO_SERVER, [a.address]);
    const client = nodeIn(b, CLIENT, [a.address, String(ECHO_PORT)]);
    try {
      expect(await lineChild(server).waitFor(/^listening$/, 10_000)).toBe("listening");
      const talk = lineChild(client);
      talk.send("connect");
      expect(await talk.waitFor(/^connected$/, 5000)).toBe("connected");
      talk.send("send one");
      expect(await talk.waitFor(/^data:/, 5000)).toBe("data:one");

      await network.cut();
      talk.send("send two");
      talk.send("probe");
      expect(await talk.waitFor(/^data:|^error:|^close$/, 1500)).toMatch(/^timeout/);
      expect(await talk.waitFor(/^probe:/, 3000)).toBe("probe:timeout");

      await network.restore();
      expect(await talk.waitFor(/^data:/, 15_000)).toBe("data:two");
      talk.send("send three");
      expect(await talk.waitFor(/^data:/, 5000)).toBe("data:three");
      talk.send("probe");
      expect(await talk.waitFor(/^probe:/, 3000)).toBe("probe:connected");
      expect(talk.lines.filter((line) => /^error:|^close$/.test(line))).toEqual([]);
    } finally {
      server.kill("SIGKILL");
      client.kill("SIGKILL");
    }
  });

  it("startPostgres({ netns }) - should serve on host A's address, reached from host B, unreachable while cut", async () => {
    const [a, b] = network.hosts;
    if (a === undefined || b === undefined) throw new Error("two hosts expected");
    let postgres: PostgresServer | undefined;
    const client = nodeIn(b, CLIENT, [a.address, "0"]);
    try {
      postgres = await startPostgres({ netns: a.name, host: a.address, fsync: false });
      expect(postgres.url()).toBe(`postgres://postgres@${a.address}:${postgres.port}/postgres`);
      // The test's own SQL goes over the unix socket, from the machine's namespace.
      expect(await postgres.query("SELECT 1 AS one")).toEqual([{ one: 1 }]);

      const talk = lineChild(client);
      talk.send(`sql ${postgres.url()}`);
      expect(await talk.waitFor(/^sql:/, 10_000)).toBe(
        `sql:${JSON.stringify({ server: a.address, client: b.address })}`,
      );

      await network.cut(b);
      talk.send(`sql ${postgres.url()}`);
      expect(await talk.waitFor(/^sql:/, 10_000)).toMatch(/^sql:error:.*timeout/i);
      await network.restore(b);
      talk.send(`sql ${postgres.url()}`);
      expect(await talk.waitFor(/^sql:/, 10_000)).toBe(
        `sql:${JSON.stringify({ server: a.address, client: b.address })}`,
      );
    } finally {
      client.kill("SIGKILL");
      await postgres?.stop();
    }
  });
});

describe.skipIf(unavailable !== undefined)(title("namespace cleanup"), () => {
  const namespaces = async (): Promise<string[]> => {
    const { execFileSync } = await import("node:child_process");
    return execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
      .split("\n")
      .map((line) => line.split(" ")[0] ?? "")
      .filter((name) => name !== "");
  };
  const CHILD = (exitHow: string) => `
import { createNetwork } from ${JSON.stringify(new URL("./netns.ts", import.meta.url).href)};
const network = await createNetwork({ hosts: 2 });
process.stdout.write(JSON.stringify(network.namespaces) + "\\n");
${exitHow}
`;

  async function namespacesOfChild(exitHow: string): Promise<{ child: ChildProcess; names: string[] }> {
    const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD(exitHow)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const line = await lineChild(child).waitFor(/^\[/, 15_000);
    const parsed: unknown = JSON.parse(line);
    if (!Array.isArray(parsed) || !parsed.every((name) => typeof name === "string"))
      throw new Error(`unexpected: ${line}`);
    return { child, names: parsed };
  }

  it("exit hook - should delete the namespaces of a process that exits without disposing of them", async () => {
    const { child, names } = await namespacesOfChild("setTimeout(() => process.exit(0), 200);");
    await new Promise((resolve) => child.once("exit", resolve));
    const left = await namespaces();
    expect(names.filter((name) => left.includes(name))).toEqual([]);
  });

  it("createNetwork - should sweep the namespaces of a killed test process, and only those", async () => {
    const { child, names } = await namespacesOfChild("setInterval(() => {}, 1000);");
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    expect((await namespaces()).filter((name) => names.includes(name))).toHaveLength(3);

    const next = await createNetwork({ hosts: 1 });
    try {
      const left = await namespaces();
      expect(names.filter((name) => left.includes(name))).toEqual([]);
      expect(left).toContain(next.hosts[0]?.name);
    } finally {
      await next.dispose();
    }
    expect(await namespaces()).not.toContain(next.hosts[0]?.name);
  });
});
