/**
 * The thundering herd, for real: N separate `baton token` processes (the bundled CLI with the real file stores,
 * proper-lockfile lock, claim store and oauth4webapi endpoint) share one BATON_HOME and all find the access token
 * expired at once, against oidc-provider with rotating refresh tokens and reuse detection (SPEC §6: "1–64 processes
 * find the token expired at once → one server call; all hold the new token").
 *
 * Timing: every process that starts after the winner stored g+1 must still see g+1 as *fresh* (more than 25 % of its
 * lifetime left, policy.ts), or it would rightly refresh again. Spawning costs ~35 ms of the parent and ~0.2 s of CPU
 * per child on 2 CPUs (32 processes: ~3 s until the last exits; 64: ~7.5 s), so the 16/32 rounds use 7 s tokens
 * (fresh for 5.25 s) and the 64 round a second server with 16 s tokens (fresh for 12 s), logged in first so that its
 * token expires while the smaller rounds run.
 */
import { createHash } from "node:crypto";
import { type AuthorizationServer, type ServerCounters, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  herd,
  type LoggedInAccount,
  loggedInAccount,
  REF,
  replayOf,
  status,
  token,
  waitUntilExpired,
} from "../support/account.ts";

const LATENCY_MS = 100;
const SMALL_TTL_S = 7;
const BIG_TTL_S = 16;

const fp = (secret: string) => createHash("sha256").update(secret).digest("hex").slice(0, 8);

const delta = (before: ServerCounters, after: ServerCounters) => ({
  refreshGrants: after.refreshGrants - before.refreshGrants,
  reuseErrors: after.reuseErrors - before.reuseErrors,
  grantsRevoked: after.grantsRevoked - before.grantsRevoked,
  tokenRequests: after.tokenRequests - before.tokenRequests,
});

let small: AuthorizationServer;
let big: AuthorizationServer;
let smallAccount: LoggedInAccount;
let bigAccount: LoggedInAccount;

beforeAll(async () => {
  [small, big] = await Promise.all([
    startAuthorizationServer({ accessTokenTtlSeconds: SMALL_TTL_S, latencyMs: LATENCY_MS }),
    startAuthorizationServer({ accessTokenTtlSeconds: BIG_TTL_S, latencyMs: LATENCY_MS }),
  ]);
  bigAccount = await loggedInAccount(big);
  smallAccount = await loggedInAccount(small);
});

afterAll(async () => {
  await Promise.all([smallAccount?.cleanup(), bigAccount?.cleanup()]);
  await Promise.all([small?.stop(), big?.stop()]);
});

/**
 * One rotation: wait for the stored token to expire, start `size` processes at once, and check the server and every
 * process. Returns the token they all printed.
 */
const rotation = async (server: AuthorizationServer, account: LoggedInAccount, size: number, label: string) => {
  const expired = await waitUntilExpired(account.home);
  const before = server.counters();
  const round = await herd(account.home, size);
  const after = server.counters();
  const seen = delta(before, after);
  const tokens = new Set(round.results.map((r) => r.stdout.trim()));
  const failures = round.results.filter((r) => r.code !== 0).map((r) => `exit ${r.code}: ${r.stderr.trim()}`);
  console.info(
    `[herd] ${label}: ${size} processes, generation ${expired.generation} → ${expired.generation + 1}: ` +
      `last process held the token ${Math.round(round.lastHeldMs)} ms after the first spawn ` +
      `(spawning took ${Math.round(round.spawnMs)} ms, exits spread over ${Math.round(round.exitSpreadMs)} ms); ` +
      `server: ${seen.refreshGrants} refresh grant(s), ${seen.reuseErrors} reuse error(s), ${seen.tokenRequests} token request(s)`,
  );
  expect(failures).toEqual([]);
  expect(seen).toEqual({ refreshGrants: 1, reuseErrors: 0, grantsRevoked: 0, tokenRequests: 1 });
  expect(tokens.size).toBe(1);
  const [printed = ""] = [...tokens];
  expect(printed).not.toBe("");
  const timeline = await replayOf(account.home);
  const claimed = timeline.events.find((e) => e.type === "refresh.claimed" && e.generation === expired.generation);
  const stored = timeline.events.find(
    (e) => e.type === "credentials.stored" && e.source === "refresh" && e.generation === expired.generation + 1,
  );
  if (claimed !== undefined && stored !== undefined) {
    console.info(
      `[herd] ${label}: the holder (pid ${claimed.pid}) claimed ${claimed.at - round.startedAt} ms after the first spawn ` +
        `and stored generation ${stored.generation} ${stored.at - claimed.at} ms later`,
    );
  }
  const now = await status(account.home);
  expect(now.generation).toBe(expired.generation + 1);
  expect(now.state).toBe("valid");
  expect(now.accessFp).toBe(fp(printed));
  return { printed, generation: now.generation, lastHeldMs: round.lastHeldMs };
};

/** The account's event log after `rotations` refreshes: one claim each, no anomaly but lock waits. */
const expectCleanLog = async (account: LoggedInAccount, rotations: number) => {
  const timeline = await replayOf(account.home);
  const claims = timeline.events.filter((e) => e.type === "refresh.claimed");
  const refreshes = timeline.events.filter((e) => e.type === "credentials.stored" && e.source === "refresh");
  console.info(
    `[herd] ${REF} replay: ${timeline.summary.events} events, ${timeline.summary.refreshes} refreshes, ` +
      `${timeline.summary.claims} claims, ${timeline.summary.lockWaits} lock waits, ` +
      `anomalies: ${JSON.stringify(timeline.anomalies.map((a) => a.kind))}`,
  );
  expect(timeline.state).toBe("valid");
  expect(claims.map((e) => [e.generation, e.attempt])).toEqual(Array.from({ length: rotations }, (_, i) => [i + 1, 1]));
  expect(refreshes.map((e) => e.generation)).toEqual(Array.from({ length: rotations }, (_, i) => i + 2));
  expect(timeline.summary).toMatchObject({ refreshes: rotations, claims: rotations, revoked: 0, inDoubt: 0 });
  expect(timeline.anomalies.filter((a) => a.kind !== "lock-wait")).toEqual([]);
};

describe("herd of processes on one BATON_HOME", () => {
  it("16 then 32 processes hit an expired token at once, over 5 rotations - should make exactly one refresh per rotation and give every process the same token", async () => {
    const sizes = [16, 16, 32, 32, 32];
    let last: Awaited<ReturnType<typeof rotation>> | undefined;
    const times: Array<string> = [];
    for (const [index, size] of sizes.entries()) {
      last = await rotation(small, smallAccount, size, `rotation ${index + 1}/${sizes.length}`);
      times.push(`N=${size}: ${Math.round(last.lastHeldMs)} ms`);
    }
    console.info(`[herd] time until the last process held the token, per rotation: ${times.join(", ")}`);
    // The token the herd agreed on is the one a later `baton token` prints (it is still fresh: no refresh).
    const before = small.counters();
    const after = await token(smallAccount.home);
    expect(after.code).toBe(0);
    expect(after.stdout.trim()).toBe(last?.printed);
    expect(delta(before, small.counters()).tokenRequests).toBe(0);
    await expectCleanLog(smallAccount, sizes.length);
  });

  it("64 processes hit an expired token at once - should make exactly one refresh and give every process the same token", async () => {
    const result = await rotation(big, bigAccount, 64, "N=64");
    const after = await token(bigAccount.home);
    expect(after.code).toBe(0);
    expect(after.stdout.trim()).toBe(result.printed);
    await expectCleanLog(bigAccount, 1);
  });
});
