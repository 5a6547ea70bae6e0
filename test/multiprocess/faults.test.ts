/**
 * SPEC §6 faults with real processes: a `baton token` process is stopped at a named protocol point
 * (`BATON_TEST_HOOK=<point>:hang`, announced as `BATON_HOOK <point>` on stderr) and SIGKILLed there, or its event loop
 * stalls past the lock's lease (`presenting:stall-ms:N`); then other `baton` processes on the same BATON_HOME must
 * reach the outcome the SPEC names, against oidc-provider with rotating refresh tokens and reuse detection.
 *
 * Every scenario has its own BATON_HOME and account, all logged in up front, so their tokens expire together once.
 * The killed process is always reaped (its `close` awaited) before the next process starts: a zombie still answers
 * `kill(pid, 0)` and would count as alive.
 */
import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { FileLock } from "@baton/adapters";
import { type AuthorizationServer, type ServerCounters, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  claimFiles,
  type LoggedInAccount,
  loggedInAccount,
  REF,
  readSecretRecord,
  replayOf,
  sleep,
  startHooked,
  status,
  token,
  waitUntilExpired,
} from "../support/account.ts";
import { type BatonResult, startBaton } from "../support/baton-cli.ts";

const TTL_S = 4;
const LATENCY_MS = 100;
const GRACE_WINDOW_S = 30;
/** The lock's documented fallback bound for a dead holder (lock.ts): stale time + the heartbeat's 1 s lead + the watch fallback. */
const FALLBACK_RECOVERY_BOUND_MS = FileLock.LOCK_OPTIONS.staleMs + 1_000 + 500;
/** The stall of test 5: longer than the lock's stale time, so the lease is lost while the holder stalls. */
const STALL_MS = FileLock.LOCK_OPTIONS.staleMs + 2_500;

const fp = (secret: string) => createHash("sha256").update(secret).digest("hex").slice(0, 8);

const delta = (before: ServerCounters, after: ServerCounters) => ({
  refreshGrants: after.refreshGrants - before.refreshGrants,
  reuseErrors: after.reuseErrors - before.reuseErrors,
  tokenRequests: after.tokenRequests - before.tokenRequests,
});

/** The ISO timestamp of the BATON_DEBUG=1 line on stderr containing `needle`, in ms since the epoch. */
const loggedAt = (stderr: string, needle: string): number | undefined => {
  const line = stderr.split("\n").find((l) => l.includes(needle));
  const stamp = line === undefined ? undefined : /(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)/.exec(line)?.[1];
  return stamp === undefined ? undefined : Date.parse(stamp);
};

/**
 * `<point>:hang` must really hang: a process that ran off the end of its event loop instead (exit 0, nothing printed)
 * would not be killed "at" the point at all, and its lock would be removed by proper-lockfile's exit hook.
 */
const expectStillRunning = async (child: ChildProcess) => {
  await sleep(200);
  expect({ exitCode: child.exitCode, signal: child.signalCode }, "the hooked process left its hang by itself").toEqual({
    exitCode: null,
    signal: null,
  });
};

const describeExit = (r: BatonResult) => `exit ${r.code}${r.signal ? ` (${r.signal})` : ""}: ${r.stderr.trim()}`;

let server: AuthorizationServer;
const accounts = new Map<string, LoggedInAccount>();
const SCENARIOS = ["claimed", "locked", "answered", "answered-grace", "persisted", "stall"] as const;
type Scenario = (typeof SCENARIOS)[number];
const home = (scenario: Scenario) => {
  const account = accounts.get(scenario);
  if (account === undefined) throw new Error(`no account for ${scenario}`);
  return account.home;
};

beforeAll(async () => {
  server = await startAuthorizationServer({ accessTokenTtlSeconds: TTL_S, latencyMs: LATENCY_MS });
  for (const scenario of SCENARIOS) {
    accounts.set(
      scenario,
      await loggedInAccount(server, scenario === "answered-grace" ? { graceWindowSeconds: GRACE_WINDOW_S } : {}),
    );
  }
});

afterAll(async () => {
  await Promise.all([...accounts.values()].map((a) => a.cleanup()));
  await server?.stop();
});

/**
 * Starts `baton token` with `<point>:hang` once the account's token has expired, waits until it announces the point,
 * optionally starts a `baton token` (BATON_DEBUG=1) that then waits for the hung holder's lock, SIGKILLs the holder
 * and waits until it is reaped. Returns its pid, the counters from before it started and the waiter.
 */
const killAt = async (scenario: Scenario, point: string, options: { readonly waiter?: boolean } = {}) => {
  await waitUntilExpired(home(scenario));
  const before = server.counters();
  const holder = startHooked(["token", REF], home(scenario), `${point}:hang`);
  await holder.reached;
  const pid = holder.child.pid ?? -1;
  await expectStillRunning(holder.child);
  let waiter: Promise<BatonResult> | undefined;
  if (options.waiter === true) {
    const started = startBaton(["token", REF], { home: home(scenario), env: { BATON_DEBUG: "1" } });
    waiter = started.done;
    // Long enough to start and reach the lock (the token is expired, so it must wait for the live holder).
    await sleep(1_000);
    expect(started.child.exitCode, "the waiter did not wait for the hung holder's lock").toBeNull();
  }
  const atHook = delta(before, server.counters());
  const killedAt = Date.now();
  holder.child.kill("SIGKILL");
  const killed = await holder.done;
  const reapedMs = Date.now() - killedAt;
  expect(killed.signal).toBe("SIGKILL");
  expect(killed.stdout).toBe("");
  return { pid, before, atHook, killedAt, reapedMs, waiter };
};

describe("holder SIGKILLed before sending", () => {
  for (const point of ["locked", "claimed"] as const) {
    it(`holder killed at ${point} (before presenting) - should recover the lock at once and make exactly one refresh`, async () => {
      const { pid, before, atHook, killedAt, reapedMs, waiter } = await killAt(point, point, { waiter: true });
      expect(atHook.tokenRequests).toBe(0);

      // One process was already waiting for the lock when the holder died; one more starts now.
      const started = performance.now();
      const next = await token(home(point), REF, { env: { BATON_DEBUG: "1" } });
      const tokenMs = performance.now() - started;
      const waited = (await waiter) as BatonResult;
      const recoverer = [waited, next].find((r) => r.stderr.includes(`of dead process ${pid}`));
      const recoveredAt = recoverer === undefined ? undefined : loggedAt(recoverer.stderr, `of dead process ${pid}`);
      const recoveryMs = recoveredAt === undefined ? Number.NaN : recoveredAt - killedAt;
      console.info(
        `[faults] killed at ${point}: lock of dead pid ${pid} recovered ${recoveryMs} ms after the SIGKILL ` +
          `(reaped after ${reapedMs} ms) by the ${recoverer === waited ? "process already waiting" : "process started after the kill"} ` +
          `(documented: milliseconds for a dead holder on this host once reaped, plus the waiter's ${500} ms watch fallback; ` +
          `fallback bound ${FALLBACK_RECOVERY_BOUND_MS} ms); the \`baton token\` started after the kill took ${Math.round(tokenMs)} ms`,
      );
      expect(waited.code, describeExit(waited)).toBe(0);
      expect(next.code, describeExit(next)).toBe(0);
      expect(next.stdout.trim()).toBe(waited.stdout.trim());
      // Recovered by the dead-holder path (kill(pid, 0) → ESRCH), not by waiting for the lease to go stale.
      expect(recoverer).toBeDefined();
      expect(recoveryMs).toBeLessThan(FileLock.LOCK_OPTIONS.staleMs);
      expect(delta(before, server.counters())).toEqual({ refreshGrants: 1, reuseErrors: 0, tokenRequests: 1 });

      const printed = next.stdout.trim();
      const now = await status(home(point));
      expect(now).toMatchObject({ state: "valid", generation: 2, accessFp: fp(printed), inDoubt: null });
      // The dead holder's claim (if it got one) was never marked presenting, so the next attempt was safe.
      expect(await claimFiles(home(point))).toEqual(
        point === "claimed" ? ["g1-a1.claim", "g1-a2.claim", "g1-a2.presenting"] : ["g1-a1.claim", "g1-a1.presenting"],
      );
      const timeline = await replayOf(home(point));
      expect(timeline.events.filter((e) => e.type === "refresh.claimed").map((e) => [e.pid, e.attempt])).toEqual(
        point === "claimed"
          ? [
              [pid, 1],
              [expect.any(Number), 2],
            ]
          : [[expect.any(Number), 1]],
      );
      expect(timeline.summary).toMatchObject({ refreshes: 1, inDoubt: 0, revoked: 0 });
      expect(timeline.anomalies.filter((a) => a.kind !== "lock-wait")).toEqual([]);
    });
  }
});

describe("holder SIGKILLed after the server rotated, before persisting", () => {
  it("holder killed at answered, no grace window - should not present again, exit 3 naming the in-doubt claim, and keep the record", async () => {
    const { pid, before, atHook } = await killAt("answered", "answered");
    // The server did rotate: generation 1's refresh token is spent, the answer died with the process.
    expect(atHook).toEqual({ refreshGrants: 1, reuseErrors: 0, tokenRequests: 1 });

    const next = await token(home("answered"));
    expect(next.code, describeExit(next)).toBe(3);
    expect(next.stdout).toBe("");
    expect(next.stderr).toContain(`process ${pid} on ${hostname()}`);
    expect(next.stderr).toContain("generation 1");
    expect(next.stderr).toContain("baton login demo:you");
    // No second presentation of generation 1.
    expect(delta(before, server.counters())).toEqual({ refreshGrants: 1, reuseErrors: 0, tokenRequests: 1 });

    const now = await status(home("answered"));
    expect(["revoked", "inDoubt"]).toContain(now.state);
    expect(now.generation).toBe(1);
    expect(now.inDoubt).toMatchObject({ generation: 1, pid, host: hostname() });

    const timeline = await replayOf(home("answered"));
    expect(timeline.anomalies.map((a) => a.kind)).toContain("in-doubt");
    expect(timeline.summary).toMatchObject({ inDoubt: 1, revoked: 1, refreshes: 0 });
    const inDoubt = timeline.events.find((e) => e.type === "refresh.in-doubt");
    expect(inDoubt?.claimant).toMatchObject({ pid, host: hostname() });
    expect(timeline.events.find((e) => e.type === "account.revoked")).toMatchObject({ reason: "in-doubt" });

    // Never blanked: the last good record (generation 1, both tokens) is still there.
    const record = await readSecretRecord(home("answered"));
    expect(record.generation).toBe(1);
    expect(typeof record.accessToken).toBe("string");
    expect(typeof record.refreshToken).toBe("string");
    expect(await claimFiles(home("answered"))).toEqual(["g1-a1.claim", "g1-a1.presenting"]);

    // Surfaced once, never a loop: asking again is the same answer, with no server call and no new event.
    const again = await token(home("answered"));
    expect(again.code, describeExit(again)).toBe(3);
    expect(delta(before, server.counters()).tokenRequests).toBe(1);
    const later = await replayOf(home("answered"));
    expect(later.summary).toMatchObject({ inDoubt: 1, revoked: 1 });
    console.info(
      `[faults] killed at answered (no grace): next process exited 3 with "${next.stderr.trim()}"; status ${now.state}`,
    );
  });

  it(`holder killed at answered, provider grace window ${GRACE_WINDOW_S} s and introspection - should resolve it as rotated, with no second presentation`, async () => {
    const { pid, before, atHook } = await killAt("answered-grace", "answered");
    expect(atHook).toEqual({ refreshGrants: 1, reuseErrors: 0, tokenRequests: 1 });

    const next = await token(home("answered-grace"));
    // Introspection says the presented refresh token was consumed: the rotation happened and its answer is lost. The
    // grace window's retry would only present a consumed token (reuse → the whole family revoked): none is made.
    expect(next.code, describeExit(next)).toBe(3);
    expect(next.stdout).toBe("");
    expect(next.stderr).toContain("no longer active");
    expect(next.stderr).toContain("baton login demo:you");
    expect(delta(before, server.counters())).toEqual({ refreshGrants: 1, reuseErrors: 0, tokenRequests: 1 });

    const timeline = await replayOf(home("answered-grace"));
    const types = timeline.events.map((e) => e.type);
    expect(timeline.events.filter((e) => e.type === "refresh.claimed").map((e) => [e.generation, e.attempt])).toEqual([
      [1, 1],
    ]);
    expect(types.filter((t) => t === "refresh.in-doubt")).toHaveLength(1);
    expect(timeline.events.find((e) => e.type === "refresh.in-doubt")?.claimant).toMatchObject({ pid });
    expect(timeline.events.find((e) => e.type === "refresh.resolved")).toMatchObject({
      outcome: "rotated",
      via: "introspection",
    });
    expect(types.filter((t) => t === "account.revoked")).toHaveLength(1);
    expect(timeline.events.find((e) => e.type === "account.revoked")).toMatchObject({ reason: "in-doubt" });
    expect(timeline.state).toBe("revoked");
    expect(await status(home("answered-grace"))).toMatchObject({ state: "revoked", generation: 1 });
    expect((await readSecretRecord(home("answered-grace"))).generation).toBe(1);

    // No loop: the next process does not try again.
    const again = await token(home("answered-grace"));
    expect(again.code, describeExit(again)).toBe(3);
    expect(delta(before, server.counters()).tokenRequests).toBe(1);
    expect((await replayOf(home("answered-grace"))).summary).toMatchObject({ inDoubt: 1, revoked: 1 });
    console.info(
      `[faults] killed at answered (grace ${GRACE_WINDOW_S} s, introspection): resolved as rotated; next process exited 3 with "${next.stderr.trim()}"`,
    );
  });
});

describe("holder SIGKILLed after persisting, before unlocking", () => {
  it("holder killed at persisted - should let the others adopt generation 2 without another server call", async () => {
    const h = home("persisted");
    await waitUntilExpired(h);
    const before = server.counters();
    const holder = startHooked(["token", REF], h, "persisted:hang");
    await holder.reached;
    const pid = holder.child.pid ?? -1;
    await expectStillRunning(holder.child);
    // Two processes while the holder still hangs holding the lock, two after it is killed.
    const whileHeld = await Promise.all([token(h), token(h)]);
    holder.child.kill("SIGKILL");
    expect((await holder.done).signal).toBe("SIGKILL");
    const afterKill = await Promise.all([token(h), token(h)]);
    const all = [...whileHeld, ...afterKill];
    for (const r of all) expect(r.code, describeExit(r)).toBe(0);
    expect(new Set(all.map((r) => r.stdout.trim())).size).toBe(1);
    expect(delta(before, server.counters())).toEqual({ refreshGrants: 1, reuseErrors: 0, tokenRequests: 1 });
    const now = await status(h);
    expect(now).toMatchObject({ generation: 2, accessFp: fp(all[0]?.stdout.trim() ?? "") });

    // The dead holder's lock does not block the next rotation either.
    await waitUntilExpired(h);
    const started = performance.now();
    const next = await token(h, REF, { env: { BATON_DEBUG: "1" } });
    const nextMs = performance.now() - started;
    expect(next.code, describeExit(next)).toBe(0);
    expect(next.stderr).toContain(`of dead process ${pid}`);
    expect(nextMs).toBeLessThan(FileLock.LOCK_OPTIONS.staleMs);
    expect(delta(before, server.counters())).toEqual({ refreshGrants: 2, reuseErrors: 0, tokenRequests: 2 });
    expect((await status(h)).generation).toBe(3);
    const timeline = await replayOf(h);
    expect(timeline.anomalies.filter((a) => a.kind !== "lock-wait")).toEqual([]);
    console.info(
      `[faults] killed at persisted: 4 processes adopted generation 2 with no server call; the next rotation ` +
        `recovered the dead holder's lock and refreshed in ${Math.round(nextMs)} ms`,
    );
  });
});

describe("holder whose event loop stalls past the lock's lease", () => {
  it(`holder stalls ${STALL_MS} ms at presenting - should never see a second presentation, and all converge on generation 2`, async () => {
    const h = home("stall");
    await waitUntilExpired(h);
    const before = server.counters();
    const holder = startHooked(["token", REF], h, `presenting:stall-ms:${STALL_MS}`);
    const stalledAt = await holder.reached;
    const timed = (run: Promise<BatonResult>) => run.then((r) => ({ ...r, endedAt: performance.now() - stalledAt }));
    // Three followers while the lease is still live, three once it has gone stale (the holder still stalls).
    const early = [token(h), token(h), token(h)].map(timed);
    await sleep(FileLock.LOCK_OPTIONS.staleMs + 1_000 - (performance.now() - stalledAt));
    const late = [token(h), token(h), token(h)].map(timed);
    const followers = await Promise.all([...early, ...late]);
    const held = await holder.done;
    const heldMs = performance.now() - stalledAt;

    const codes = followers.map((r) => r.code);
    console.info(
      `[faults] stall ${STALL_MS} ms: holder exited ${held.code} after ${Math.round(heldMs)} ms; followers: ` +
        followers.map((r) => `exit ${r.code} at ${Math.round(r.endedAt)} ms`).join(", "),
    );
    expect(held.code, describeExit(held)).toBe(0);
    for (const r of followers) expect([0, 4], describeExit(r)).toContain(r.code);
    // I1: the stalled holder's presentation is the only one.
    expect(delta(before, server.counters())).toEqual({ refreshGrants: 1, reuseErrors: 0, tokenRequests: 1 });
    expect(await claimFiles(h)).toEqual(["g1-a1.claim", "g1-a1.presenting"]);

    const winner = held.stdout.trim();
    for (const r of followers.filter((f) => f.code === 0)) expect(r.stdout.trim()).toBe(winner);
    for (const r of followers.filter((f) => f.code === 4)) expect(r.stdout).toBe("");
    const after = await token(h);
    expect(after.code, describeExit(after)).toBe(0);
    expect(after.stdout.trim()).toBe(winner);
    const now = await status(h);
    expect(now).toMatchObject({ generation: 2, accessFp: fp(winner) });
    const timeline = await replayOf(h);
    expect(timeline.anomalies.filter((a) => a.kind !== "lock-wait")).toEqual([]);
    expect(timeline.summary).toMatchObject({ claims: 1, refreshes: 1, inDoubt: 0, revoked: 0 });
    expect(codes.length).toBe(6);
  });
});
