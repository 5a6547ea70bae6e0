/**
 * 64 thin clients — containers simulated as processes, each with its own empty home — asking a broker for a token
 * at once while a rotation is due (6 s access tokens against oidc-provider with rotation and reuse detection): every
 * client gets a token the server still accepts, the broker refreshes once per rotation (no reuse, no revocation, no
 * anomaly in the replay), and no refresh token the server ever issued reaches a client — not in a client's home, not
 * in anything a client or the broker printed. And with nobody asking, the broker refreshes ahead of expiry by itself.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type LoggedInAccount, loggedInAccount, REF, readSecretRecord, replayOf, sleep } from "../support/account.ts";
import { type BatonResult, startBaton } from "../support/baton-cli.ts";
import { filesBelow, handOuts, type RunningBroker, startBroker, stopBroker } from "./broker-support.ts";

const TTL_S = 6;
const CLIENTS = 64;

let server: AuthorizationServer;
let account: LoggedInAccount;
let broker: RunningBroker;
/** Every refresh and access token the broker's store held during the test (the server issued them). */
const refreshTokens = new Set<string>();
const accessTokens = new Set<string>();
let watching: NodeJS.Timeout | undefined;

const remember = async () => {
  const record = await readSecretRecord(account.home).catch(() => undefined);
  if (typeof record?.refreshToken === "string") refreshTokens.add(record.refreshToken);
  if (typeof record?.accessToken === "string") accessTokens.add(record.accessToken);
};

beforeAll(async () => {
  server = await startAuthorizationServer({ accessTokenTtlSeconds: TTL_S, latencyMs: 100 });
  account = await loggedInAccount(server);
  await remember();
  // A generation stays stored for most of a token's life: reading the record every 50 ms sees each one.
  watching = setInterval(() => void remember(), 50);
  broker = await startBroker(account.home);
});

afterAll(async () => {
  clearInterval(watching);
  if (broker !== undefined) await stopBroker(broker);
  await account?.cleanup();
  await server?.stop();
});

/** Waits until the broker's store holds a generation past `generation` (its timer rotates 2–2.5 s before expiry). */
const untilRotatedPast = async (generation: number): Promise<void> => {
  const deadline = Date.now() + (TTL_S + 4) * 1_000;
  while (Number((await readSecretRecord(account.home)).generation) <= generation) {
    if (Date.now() > deadline) throw new Error(`generation ${generation} was not rotated within ${TTL_S + 4} s`);
    await sleep(100);
  }
};

const fingerprint = (token: string) => createHash("sha256").update(token).digest("hex").slice(0, 8);

/** Asks the server whether `token` is active now (RFC 7662, with the test server's introspection client). */
const active = async (token: string): Promise<boolean> => {
  const { clientId, clientSecret } = server.introspectionClient;
  const response = await fetch(`${server.issuer}/token/introspection`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ token }),
  });
  return ((await response.json()) as { active?: boolean }).active === true;
};

it(`${CLIENTS} thin clients while a rotation is due - should all get a live token, one refresh per rotation, and no refresh token`, async () => {
  const homes = await Promise.all(Array.from({ length: CLIENTS }, () => mkdtemp(join(tmpdir(), "baton-container-"))));
  const outputs: Array<BatonResult> = [];
  try {
    const before = server.counters();
    for (const round of [1, 2]) {
      // The broker's timer refreshes at expiry − 1.5 s (threshold) − 0.6 s (lead) − up to 0.3 s of jitter: start just
      // before it.
      const record = await readSecretRecord(account.home);
      await sleep(Number(record.expiresAt) - 1_500 - 600 - 400 - Date.now());
      const results = await Promise.all(
        homes.map(
          (home) => startBaton(["token", REF], { home, env: { BATON_SERVER: broker.server }, timeoutMs: 60_000 }).done,
        ),
      );
      outputs.push(...results);
      expect(results.filter((r) => r.code !== 0).map((r) => `round ${round}: ${r.stderr}`)).toEqual([]);
      // Clients served the current token may all finish before the timer stores the next generation: wait for it, so
      // the next round reads the next expiry and the counts below are not taken mid-rotation.
      await untilRotatedPast(Number(record.generation));
      const printed = new Set(results.map((r) => r.stdout.trim()));
      console.info(`[broker rotation] round ${round}: ${CLIENTS} clients got ${printed.size} distinct token(s)`);
      // Live, or merely past its own expiry since (this process, busy spawning, sees exits late): never revoked. The
      // server's `exp` is in whole seconds and precedes the broker's reckoning by a round trip: a second of leeway.
      const lent = new Map((await handOuts(account.home, REF)).map((note) => [note.accessFp, note.expiresAt]));
      for (const token of printed) {
        const expiresAt = lent.get(fingerprint(token));
        expect(expiresAt).toBeDefined();
        expect((await active(token)) || Date.now() >= (expiresAt ?? 0) - 1_000).toBe(true);
      }
    }
    await remember();
    const after = server.counters();
    const replay = await replayOf(account.home);
    expect(replay.anomalies).toEqual([]);
    expect({
      reuseErrors: after.reuseErrors - before.reuseErrors,
      grantsRevoked: after.grantsRevoked - before.grantsRevoked,
      refreshGrants: after.refreshGrants - before.refreshGrants,
    }).toEqual({ reuseErrors: 0, grantsRevoked: 0, refreshGrants: replay.summary.refreshes });
    expect(replay.summary.claims).toBe(replay.summary.refreshes);
    // Nobody got a token that had expired when it was lent: the broker refreshed ahead.
    const lent = await handOuts(account.home, REF);
    expect(lent.length).toBeGreaterThanOrEqual(2 * CLIENTS);
    expect(lent.filter((note) => note.expiresAt <= note.at)).toEqual([]);

    // No refresh token anywhere a client could see it: its home (empty), its output; nor any token in the broker's log.
    expect(refreshTokens.size).toBeGreaterThanOrEqual(2);
    const leaks: Array<string> = [];
    for (const [index, home] of homes.entries()) {
      for (const file of await filesBelow(home)) leaks.push(`client ${index} wrote ${file.path}`);
    }
    for (const [index, output] of outputs.entries()) {
      for (const secret of refreshTokens) {
        if (output.stdout.includes(secret) || output.stderr.includes(secret)) leaks.push(`client ${index} printed one`);
      }
    }
    for (const secret of [...refreshTokens, ...accessTokens]) {
      if (broker.stderr().includes(secret)) leaks.push("the broker printed a token");
    }
    expect(leaks).toEqual([]);
  } finally {
    await Promise.all(homes.map((home) => rm(home, { recursive: true, force: true })));
  }
});

it("a broker nobody asks - should refresh each account ahead of its expiry by itself", async () => {
  const before = await readSecretRecord(account.home);
  await sleep(Number(before.expiresAt) + 300 - Date.now());
  const after = await readSecretRecord(account.home);
  expect(Number(after.generation)).toBeGreaterThan(Number(before.generation));
  expect(Number(after.expiresAt)).toBeGreaterThan(Date.now());
});
