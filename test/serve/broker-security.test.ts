/**
 * Who may borrow what from a broker, and what it does with clients that misbehave (issue #16, "Security and
 * faults"): client tokens required over TCP and honoured on the unix socket; a wrong or removed token refused with
 * exit 2 and a clear message; a token limited to one account refused another; bad tokens throttled (429, exit 4);
 * malformed requests answered 400/404/405/431 while the broker keeps serving; slow clients dropped after the header
 * timeout, and a full connection table refusing newcomers only until they are.
 */
import { connect } from "node:net";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoggedInAccount, loggedInAccount, loginHeadless, REF, readSecretRecord } from "../support/account.ts";
import { runBaton } from "../support/baton-cli.ts";
import { clientToken, type RunningBroker, startBroker, stopBroker, thin } from "./broker-support.ts";

const OTHER = "demo:other";

let server: AuthorizationServer;
let account: LoggedInAccount;

beforeAll(async () => {
  server = await startAuthorizationServer({ accessTokenTtlSeconds: 600 });
  account = await loggedInAccount(server);
  await loginHeadless(account.home, OTHER);
});

afterAll(async () => {
  await account?.cleanup();
  await server?.stop();
});

const accessTokenOf = async (ref: string) => {
  const [provider = "", name = ""] = ref.split(":");
  const record = await readSecretRecord(account.home);
  if (ref === REF) return String(record.accessToken);
  const { readFile } = await import("node:fs/promises");
  const other = JSON.parse(await readFile(`${account.home}/accounts/${provider}/${name}/secret.json`, "utf8"));
  return String(other.accessToken);
};

interface RawAnswer {
  readonly status: number;
  readonly text: string;
}

/** Writes `request` as is to the broker's socket or TCP port and reads until the broker closes or `ms` pass. */
const raw = (brokerAddress: string, request: string, ms = 8_000): Promise<RawAnswer> =>
  new Promise((resolve, reject) => {
    const socket = brokerAddress.startsWith("unix:")
      ? connect({ path: brokerAddress.slice("unix:".length) })
      : connect({ host: "127.0.0.1", port: Number(new URL(brokerAddress).port) });
    let text = "";
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on("data", (chunk) => {
      text += chunk.toString("utf8");
    });
    socket.on("error", reject);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
    socket.write(request);
  });

const get = (path: string, headers = "") =>
  `GET ${path} HTTP/1.1\r\nhost: broker\r\n${headers}connection: close\r\n\r\n`;

describe("client tokens", () => {
  let tcp: RunningBroker;
  let unix: RunningBroker;
  let full: string;
  let limited: string;

  beforeAll(async () => {
    full = await clientToken(account.home, "laptop");
    limited = await clientToken(account.home, "ci", [REF]);
    [tcp, unix] = await Promise.all([
      startBroker(account.home, ["--listen", "127.0.0.1:0", "--insecure-loopback"]),
      startBroker(account.home),
    ]);
  });
  afterAll(async () => {
    await Promise.all([tcp && stopBroker(tcp), unix && stopBroker(unix)]);
  });

  it("baton serve client add - should print the token alone and keep only its hash", async () => {
    expect(full).toMatch(/^baton_[A-Za-z0-9_-]{43}$/);
    const { readFile } = await import("node:fs/promises");
    const registry = await readFile(`${account.home}/serve/clients.json`, "utf8");
    expect(registry).not.toContain(full);
    expect(registry).not.toContain(limited);
    const listed = await runBaton(["serve", "client", "list", "--json"], { home: account.home });
    expect(JSON.parse(listed.stdout).clients).toEqual([
      { name: "ci", accounts: [REF], createdAt: expect.any(Number) },
      { name: "laptop", accounts: null, createdAt: expect.any(Number) },
    ]);
  });

  it("over TCP - should lend to a known client token and refuse a missing one with exit 2", async () => {
    expect(tcp.server).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const lent = await thin(["token", REF], { server: tcp.server, token: full });
    expect(lent).toMatchObject({ code: 0, stdout: `${await accessTokenOf(REF)}\n` });
    const missing = await thin(["token", REF], { server: tcp.server });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("this broker needs a client token over TCP: set BATON_SERVER_TOKEN");
  });

  it("a wrong client token - should be refused with exit 2, on TCP and on the unix socket alike", async () => {
    const wrong = `baton_${"A".repeat(43)}`;
    for (const broker of [tcp, unix]) {
      const refused = await thin(["token", REF], { server: broker.server, token: wrong });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain("the broker refused BATON_SERVER_TOKEN");
      expect(refused.stdout).toBe("");
      expect(refused.stderr).not.toContain(wrong);
    }
    expect(tcp.stderr()).not.toContain(wrong);
  });

  it("a token limited to one account - should get that account and be refused another with exit 2", async () => {
    expect(await thin(["token", REF], { server: tcp.server, token: limited })).toMatchObject({ code: 0 });
    const other = await thin(["token", OTHER], { server: tcp.server, token: limited });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain(`client "ci" may not use ${OTHER}`);
    const statusOfOther = await thin(["status", OTHER], { server: tcp.server, token: limited });
    expect(statusOfOther.code).toBe(2);
    const statuses = await thin(["status", "--json"], { server: tcp.server, token: limited });
    expect(JSON.parse(statuses.stdout).accounts.map((row: { account: string }) => row.account)).toEqual([REF]);
    const unlimited = await thin(["token", OTHER], { server: tcp.server, token: full });
    expect(unlimited).toMatchObject({ code: 0, stdout: `${await accessTokenOf(OTHER)}\n` });
  });

  it("a removed client token - should be refused by the running broker at once", async () => {
    const doomed = await clientToken(account.home, "doomed");
    expect((await thin(["token", REF], { server: tcp.server, token: doomed })).code).toBe(0);
    expect((await runBaton(["serve", "client", "remove", "doomed"], { home: account.home })).code).toBe(0);
    const refused = await thin(["token", REF], { server: tcp.server, token: doomed });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("removed with `baton serve client remove`");
  });

  it("a hand-out - should hold the access token and its particulars, never the refresh token", async () => {
    const answer = await raw(unix.server, get(`/v1/token?account=${REF}`));
    expect(answer.status).toBe(200);
    const body = JSON.parse(answer.text.slice(answer.text.indexOf("\r\n\r\n") + 4)) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(
      [
        "access_token",
        "account",
        "cache_until",
        "expires_at",
        "expires_in",
        "generation",
        "obtained_at",
        "scope",
        "token_type",
        "username",
      ].sort(),
    );
    expect(body.access_token).toBe(await accessTokenOf(REF));
    const record = await readSecretRecord(account.home);
    expect(answer.text).not.toContain(String(record.refreshToken));
    expect(answer.text).toContain("cache-control: no-store");
  });

  it("the unix socket without a client token - should lend every account (the socket's mode limits who connects)", async () => {
    expect(await thin(["token", OTHER], { server: unix.server })).toMatchObject({
      code: 0,
      stdout: `${await accessTokenOf(OTHER)}\n`,
    });
  });
});

describe("misbehaving clients", () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker(account.home, ["--max-connections", "12"]);
  });
  afterAll(async () => broker && stopBroker(broker));

  it("malformed requests - should be answered 400, 404, 405 or 431 with a JSON error, and the broker keep serving", async () => {
    const answers = {
      garbage: await raw(broker.server, "NOT HTTP AT ALL\r\n\r\n"),
      method: await raw(
        broker.server,
        `POST /v1/token?account=${REF} HTTP/1.1\r\nhost: b\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`,
      ),
      twice: await raw(broker.server, get(`/v1/token?account=${REF}&account=${REF}`)),
      unknownParameter: await raw(broker.server, get("/v1/token?fields=all")),
      neither: await raw(broker.server, get("/v1/token")),
      badTool: await raw(broker.server, get("/v1/token?tool=svn&host=x")),
      badRef: await raw(broker.server, get("/v1/token?account=a:b:c")),
      route: await raw(broker.server, get("/v2/token")),
      hugeHeader: await raw(broker.server, get("/v1/health", `x-filler: ${"x".repeat(16_384)}\r\n`)),
    };
    expect(Object.fromEntries(Object.entries(answers).map(([name, answer]) => [name, answer.status]))).toEqual({
      garbage: 400,
      method: 405,
      twice: 400,
      unknownParameter: 400,
      neither: 400,
      badTool: 400,
      badRef: 422,
      route: 404,
      hugeHeader: 431,
    });
    expect(answers.twice.text).toContain('"class":"invalid-request"');
    expect(answers.badRef.text).toContain("has more than one");
    const health = await raw(broker.server, get("/v1/health"));
    expect(health.status).toBe(200);
    expect(await thin(["token", REF], { server: broker.server })).toMatchObject({ code: 0 });
  });

  it("slow clients holding connections - should not stop others, and be dropped after the header timeout", async () => {
    const slowStarted = performance.now();
    const slow = Array.from({ length: 8 }, () => raw(broker.server, "GET /v1/health HTTP/1.1\r\nhost: b\r\n", 20_000));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const meanwhile = await thin(["token", REF], { server: broker.server });
    expect(meanwhile.code).toBe(0);
    const dropped = await Promise.all(slow);
    expect(dropped.map((answer) => answer.status)).toEqual(Array(8).fill(408));
    // Headers are due within 5 s, checked every second.
    expect(performance.now() - slowStarted).toBeLessThan(9_000);
  });

  it("a full connection table - should close newcomers at once, and serve again when the slow ones are dropped", async () => {
    const slow = Array.from({ length: 12 }, () => raw(broker.server, "GET /v1/health HTTP/1.1\r\nhost: b\r\n", 20_000));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const turnedAway = await thin(["token", REF], { server: broker.server });
    expect(turnedAway.code).toBe(4);
    expect(turnedAway.stderr).toContain("closed the connection before answering");
    await Promise.all(slow);
    expect(await thin(["token", REF], { server: broker.server })).toMatchObject({ code: 0 });
  });

  it("bad client tokens in a row - should be throttled: 429 and exit 4 for a while, even with a good token", async () => {
    const good = await clientToken(account.home, "throttled");
    for (let i = 0; i < 20; i += 1) {
      const refused = await raw(
        broker.server,
        get(`/v1/token?account=${REF}`, `authorization: Bearer baton_bad${i}\r\n`),
      );
      expect(refused.status).toBe(401);
      expect(refused.text).toContain("www-authenticate: Bearer");
    }
    const throttled = await raw(broker.server, get(`/v1/token?account=${REF}`, "authorization: Bearer baton_bad\r\n"));
    expect(throttled.status).toBe(429);
    expect(throttled.text).toMatch(/retry-after: \d+/);
    const meantime = await thin(["token", REF], { server: broker.server, token: good });
    expect(meantime.code).toBe(4);
    expect(meantime.stderr).toContain("too many refused client tokens");
  });
});
