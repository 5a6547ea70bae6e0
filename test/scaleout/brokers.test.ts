/**
 * Highly available brokers (issue #16): two `baton serve` processes on two "machines" sharing one PostgreSQL store
 * (test/scaleout/support.ts), over loopback TCP, against oidc-provider with rotating refresh tokens and reuse
 * detection (6 s access tokens, so the brokers' timers and the clients meet rotations).
 *
 * - a client token issued on any machine of the store is accepted by every broker, and refused by all of them once
 *   removed anywhere (the client registry is in the store);
 * - clients of both brokers asking while rotations are due: every client gets a token, and the two brokers — whose
 *   timers fire together — make one refresh per rotation between them (no reuse, no revocation, no anomaly);
 * - one broker SIGKILLed during a herd: its clients exit 0 or 4, never anything else; the other broker's clients, and
 *   those that list both brokers in BATON_SERVER, all get the token; the stored credentials are intact and the next
 *   rotation is still one refresh.
 */
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emptyHome, type RunningBroker, startBroker, stopBroker, thin } from "../serve/broker-support.ts";
import { REF, sleep } from "../support/account.ts";
import { type BatonResult, startBaton } from "../support/baton-cli.ts";
import { type PostgresServer, postgresUnavailableReason, startPostgres } from "../support/postgres.ts";
import { loginOn, type Machine, on, replayOn, type SharedStore, sharedStore, statusOn } from "./support.ts";

const unavailable = postgresUnavailableReason();
const TTL_S = 6;
const LOOPBACK = ["--listen", "127.0.0.1:0", "--insecure-loopback"];

let postgres: PostgresServer;
let server: AuthorizationServer;
let store: SharedStore;
let admin: Machine;
let brokers: Array<{ readonly machine: Machine; broker: RunningBroker }> = [];
let clientToken: string;

const machineOf = (index: number): Machine => {
  const machine = store.machines[index];
  if (machine === undefined) throw new Error(`no machine ${index}`);
  return machine;
};

const startBrokerOn = (machine: Machine) => startBroker(machine.home, LOOPBACK, { env: machine.env });

/** `count` thin `baton token REF` processes against `server`, started at once, each in an empty home. */
const herd = async (server: string, count: number, token: string): Promise<ReadonlyArray<BatonResult>> => {
  const home = await emptyHome();
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        startBaton(["token", REF], {
          home,
          env: { BATON_SERVER: server, BATON_SERVER_TOKEN: token },
          timeoutMs: 60_000,
        }).done,
    ),
  );
};

/**
 * Sleeps until shortly before the brokers' timers refresh (expiry − 1.5 s threshold − 0.6 s lead − jitter); returns
 * the generation that rotation will replace.
 */
const untilRotationDue = async (): Promise<number> => {
  const seen = await statusOn(admin);
  if (seen.expiresAt === null) throw new Error("the account has no expiry");
  await sleep(seen.expiresAt - 1_500 - 600 - 400 - Date.now());
  return seen.generation;
};

/**
 * Waits until the store holds a generation past `generation`. A herd may be served the current token and finish
 * before the timers fire; the next round must read the next expiry, not this one again.
 */
const untilRotatedPast = async (generation: number): Promise<void> => {
  const deadline = Date.now() + (TTL_S + 4) * 1_000;
  while ((await statusOn(admin)).generation <= generation) {
    if (Date.now() > deadline) throw new Error(`generation ${generation} was not rotated within ${TTL_S + 4} s`);
    await sleep(100);
  }
};

describe.skipIf(unavailable !== undefined)(
  `brokers sharing one PostgreSQL store${unavailable === undefined ? "" : ` (skipped: ${unavailable})`}`,
  () => {
    beforeAll(async () => {
      [postgres, server] = await Promise.all([
        startPostgres({ fsync: false }),
        startAuthorizationServer({ accessTokenTtlSeconds: TTL_S, latencyMs: 100 }),
      ]);
      store = await sharedStore(postgres, 3);
      admin = machineOf(0);
      await loginOn(admin, server);
      const added = await on(admin, ["serve", "client", "add", "ci"]);
      expect(added.code, added.stderr).toBe(0);
      clientToken = added.stdout.trim();
      brokers = await Promise.all(
        [machineOf(1), machineOf(2)].map(async (machine) => ({ machine, broker: await startBrokerOn(machine) })),
      );
    });
    afterAll(async () => {
      await Promise.all(brokers.map(({ broker }) => stopBroker(broker)));
      await store?.cleanup();
      await Promise.all([server?.stop(), postgres?.stop()]);
    });

    it("serve client add on one machine - should be accepted by every broker of the store, and refused by all once removed", async () => {
      const listed = await on(machineOf(2), ["serve", "client", "list", "--json"]);
      expect(JSON.parse(listed.stdout)).toMatchObject({ clients: [{ name: "ci", accounts: null }] });
      const temporary = await on(machineOf(1), ["serve", "client", "add", "temporary", "--account", REF]);
      expect(temporary.code, temporary.stderr).toBe(0);
      const token = temporary.stdout.trim();

      const served = await Promise.all(
        brokers.map(({ broker }) => thin(["token", REF], { server: broker.server, token })),
      );
      expect(served.map((r) => r.code)).toEqual([0, 0]);
      expect(new Set(served.map((r) => r.stdout.trim())).size).toBe(1);

      const removed = await on(admin, ["serve", "client", "remove", "temporary"]);
      expect(removed.code, removed.stderr).toBe(0);
      const refused = await Promise.all(
        brokers.map(({ broker }) => thin(["token", REF], { server: broker.server, token })),
      );
      expect(refused.map((r) => r.code)).toEqual([2, 2]);
      for (const result of refused) {
        expect(result.stdout).toBe("");
        expect(result.stderr).toContain("refused BATON_SERVER_TOKEN");
        expect(result.stderr).not.toContain(token);
      }
    });

    it("two brokers while rotations are due - should lend every client a token and refresh once per rotation between them", async () => {
      // Start just after a rotation, so that none is half done (claimed, not yet stored) when the counts are read.
      await untilRotatedPast((await statusOn(admin)).generation);
      const before = server.counters();
      const replayBefore = await replayOn(admin);
      for (const round of [1, 2]) {
        const due = await untilRotationDue();
        const results = (await Promise.all(brokers.map(({ broker }) => herd(broker.server, 16, clientToken)))).flat();
        expect(results.filter((r) => r.code !== 0).map((r) => `round ${round}: ${r.stderr}`)).toEqual([]);
        await untilRotatedPast(due);
      }
      const after = server.counters();
      const replay = await replayOn(admin);
      expect(replay.anomalies).toEqual([]);
      const refreshes = replay.summary.refreshes - replayBefore.summary.refreshes;
      expect(refreshes).toBeGreaterThanOrEqual(2);
      expect({
        reuseErrors: after.reuseErrors - before.reuseErrors,
        grantsRevoked: after.grantsRevoked - before.grantsRevoked,
        refreshGrants: after.refreshGrants - before.refreshGrants,
        claims: replay.summary.claims - replayBefore.summary.claims,
      }).toEqual({ reuseErrors: 0, grantsRevoked: 0, refreshGrants: refreshes, claims: refreshes });
      // Which machines made the claims (either broker may win a rotation; the test log shows them).
      const machines = new Set(
        replay.events.filter((event) => event.type === "refresh.claimed").map((event) => event.host),
      );
      console.info(`[brokers] ${refreshes} refreshes; claims made on ${[...machines].join(", ")}`);
    });

    it("SIGKILL of one broker during a herd - should leave its clients exiting 0 or 4, the rest all 0, the store intact", async () => {
      const [victim, survivor] = brokers;
      if (victim === undefined || survivor === undefined) throw new Error("two brokers expected");
      const before = await statusOn(admin);
      const both = `${victim.broker.server},${survivor.broker.server}`;
      const herds = [
        herd(victim.broker.server, 16, clientToken),
        herd(survivor.broker.server, 16, clientToken),
        herd(both, 16, clientToken),
      ];
      await sleep(150);
      victim.broker.child.kill("SIGKILL");
      const [ofVictim, ofSurvivor, ofBoth] = await Promise.all(herds);
      expect(ofSurvivor?.map((r) => r.code)).toEqual(Array.from({ length: 16 }, () => 0));
      // Clients that list both brokers move on to the survivor: every one gets the token.
      expect(ofBoth?.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([]);
      expect(ofVictim?.map((r) => r.code).filter((code) => code !== 0 && code !== 4)).toEqual([]);
      for (const result of ofVictim ?? []) {
        if (result.code === 4) expect(result.stderr).toMatch(/broker at http:\/\/127\.0\.0\.1:\d+/);
      }
      await victim.broker.done;
      const afterKill = await statusOn(admin);
      expect(afterKill.generation).toBeGreaterThanOrEqual(before.generation);
      expect(afterKill.state).not.toBe("revoked");

      // The next rotation is one refresh still, made by the survivor (or a restarted broker adopting the store).
      victim.broker = await startBrokerOn(victim.machine);
      const counters = server.counters();
      await untilRotationDue();
      const results = (await Promise.all(brokers.map(({ broker }) => herd(broker.server, 8, clientToken)))).flat();
      expect(results.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([]);
      await sleep(1_000);
      const now = server.counters();
      expect(now.reuseErrors - counters.reuseErrors).toBe(0);
      expect(now.grantsRevoked - counters.grantsRevoked).toBe(0);
      expect((await replayOn(admin)).anomalies).toEqual([]);
    });
  },
);
