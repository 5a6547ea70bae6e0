/**
 * Thin clients of two brokers of one store (docs/serve.md, "High availability"): two real `baton serve` processes on
 * one logged-in home — A on a unix socket of its own, B on a loopback TCP port (`--insecure-loopback`) — and `baton`
 * processes with `BATON_SERVER="A,B"` in empty homes. While both are up A answers; once A is SIGKILLed the same
 * clients get the token from B with exit 0 — the `baton token` fast path, the full CLI and the facade alike — while a
 * client of A alone exits 4. A broker address that never takes the connection is passed over after the 3 s connect
 * timeout. With both gone, one exit-4 message names each broker and why it could not be reached.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { createBaton } from "@baton/adapters";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoggedInAccount, loggedInAccount, REF, readSecretRecord } from "../support/account.ts";
import { clientToken, type RunningBroker, startBroker, stopBroker, thin } from "./broker-support.ts";

let server: AuthorizationServer;
let account: LoggedInAccount;
let a: RunningBroker | undefined;
let b: RunningBroker | undefined;
let token: string;

beforeAll(async () => {
  server = await startAuthorizationServer({ accessTokenTtlSeconds: 600 });
  account = await loggedInAccount(server);
  token = await clientToken(account.home, "laptop");
  [a, b] = await Promise.all([
    startBroker(account.home, ["--listen", `unix:${join(account.home, "serve", "run", "a.sock")}`]),
    startBroker(account.home, ["--listen", "127.0.0.1:0", "--insecure-loopback"]),
  ]);
});

afterAll(async () => {
  await Promise.all([a && stopBroker(a), b && stopBroker(b)]);
  await account?.cleanup();
  await server?.stop();
});

const storedAccessToken = async () => String((await readSecretRecord(account.home)).accessToken);

/** A broker of the pair, started by beforeAll. */
const started = (broker: RunningBroker | undefined): RunningBroker => {
  if (broker === undefined) throw new Error("the broker did not start");
  return broker;
};

/**
 * A TCP address that never takes a connection, as a host gone silent: a child Node process listens with a backlog of
 * 1 and blocks its event loop, so it accepts nothing; once two connections fill the kernel's accept queue, Linux drops
 * every further SYN and a client's connect hangs until its own timeout. The child ends by itself after a minute.
 */
const silentListener = async (): Promise<{ readonly server: string; readonly stop: () => Promise<void> }> => {
  const child = spawn(
    process.execPath,
    [
      "-e",
      `const server = require("node:net").createServer();
       server.listen({ host: "127.0.0.1", port: 0, backlog: 1 }, () => {
         process.stdout.write(server.address().port + "\\n");
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
         process.exit(0);
       });`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const [line] = (await once(createInterface({ input: child.stdout }), "line")) as [string];
  const port = Number(line);
  const fillers = await Promise.all(
    [1, 2].map(
      () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect({ host: "127.0.0.1", port }, () => resolve(socket));
          socket.once("error", reject);
        }),
    ),
  );
  return {
    server: `http://127.0.0.1:${port}`,
    stop: async () => {
      for (const socket of fillers) socket.destroy();
      child.kill("SIGKILL");
      await exited;
    },
  };
};

const kill = async (broker: RunningBroker) => {
  broker.child.kill("SIGKILL");
  await broker.done;
};

describe("a thin client of two brokers on one store", () => {
  it("baton token with BATON_SERVER=A,B - should get the token while both brokers are up", async () => {
    const both = `${started(a).server},${started(b).server}`;
    const result = await thin(["token", REF], { server: both, token });
    expect(result).toMatchObject({ code: 0, stderr: "", stdout: `${await storedAccessToken()}\n` });
  });

  it("baton token with BATON_SERVER=A,B - should get the token from B with exit 0 while A is SIGKILLed; A alone exits 4", async () => {
    const first = started(a);
    const second = started(b);
    await kill(first);
    const expected = await storedAccessToken();

    const startedAt = performance.now();
    const fast = await thin(["token", REF], { server: `${first.server}, ${second.server}`, token });
    expect(fast).toMatchObject({ code: 0, stderr: "", stdout: `${expected}\n` });
    expect(performance.now() - startedAt).toBeLessThan(10_000);

    const full = await thin(["exec", REF, "--", "sh", "-c", 'printf %s "$BATON_ACCESS_TOKEN"'], {
      server: `${first.server},${second.server}`,
      token,
    });
    expect(full).toMatchObject({ code: 0, stdout: expected });
    const listed = await thin(["status", "--json"], { server: `${first.server},${second.server}`, token });
    expect(listed.code).toBe(0);
    const parsed = JSON.parse(listed.stdout) as { accounts: ReadonlyArray<{ account: string }> };
    expect(parsed.accounts.map((row) => row.account)).toEqual([REF]);

    const embedded = await createBaton({ server: `${first.server},${second.server}`, serverToken: token });
    try {
      expect(await embedded.accessToken(REF)).toBe(expected);
    } finally {
      await embedded.close();
    }

    const alone = await thin(["token", REF], { server: first.server, token });
    expect(alone.code).toBe(4);
    expect(alone.stdout).toBe("");
    expect(alone.stderr).toContain(`the broker at ${first.server} refused the connection`);
  });

  it("baton token with BATON_SERVER=X,B where X never takes the connection - should get the token from B after the 3 s connect timeout", async () => {
    const second = started(b);
    const silent = await silentListener();
    try {
      const expected = await storedAccessToken();
      const startedAt = performance.now();
      const moved = await thin(["token", REF], { server: `${silent.server},${second.server}`, token });
      const elapsedMs = performance.now() - startedAt;
      expect(moved).toMatchObject({ code: 0, stderr: "", stdout: `${expected}\n` });
      expect(elapsedMs).toBeGreaterThanOrEqual(3_000);
      expect(elapsedMs).toBeLessThan(15_000);

      const alone = await thin(["token", REF], { server: silent.server, token });
      expect(alone.code).toBe(4);
      expect(alone.stdout).toBe("");
      expect(alone.stderr).toContain(`the broker at ${silent.server} did not take the connection within 3 s`);
    } finally {
      await silent.stop();
    }
  });

  it("baton token with BATON_SERVER=A,B - should exit 4 naming each broker and its reason when both are down", async () => {
    const first = started(a);
    const second = started(b);
    await kill(second);
    for (const args of [
      ["token", REF],
      ["token", REF, "--json"],
    ]) {
      const result = await thin(args, { server: `${first.server},${second.server}`, token });
      expect(result.code).toBe(4);
      expect(result.stdout).toBe("");
      expect(result.stderr).toContain("none of the 2 brokers could be reached");
      expect(result.stderr).toContain(`the broker at ${first.server} refused the connection`);
      expect(result.stderr).toContain(`the broker at ${second.server} refused the connection`);
      expect(result.stderr).not.toContain(token);
    }
  });
});
