/**
 * SPEC §6 faults across machines sharing one PostgreSQL store (fsync on), each scenario on its own store (database and
 * key) with three "machines", against oidc-provider with rotating refresh tokens and reuse detection. A `baton token`
 * process is stopped at a named protocol point (`BATON_TEST_HOOK`, the test-only build) and killed there, or its
 * database connection is terminated, or the database crash-restarted, while processes on the other machines go on.
 * Each outcome is the one SPEC §6 names, with nothing blanked and no second presentation of a generation — server
 * counters say how many refreshes and reuses there were.
 *
 * Plus the store's own faults: a wrong or a missing key (exit 2, nothing sent, nothing written) and a database at an
 * older schema (migrated on first use) or a newer one (refused, nothing written).
 */

import { PostgresSchema, StoreKey } from "@baton/adapters";
import { type AuthorizationServer, type ServerCounters, startAuthorizationServer } from "@baton/devserver";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REF, sleep } from "../support/account.ts";
import type { BatonResult } from "../support/baton-cli.ts";
import { type PostgresServer, postgresUnavailableReason, startPostgres } from "../support/postgres.ts";
import {
  herdOn,
  hookedOn,
  loginOn,
  type Machine,
  on,
  replayOn,
  type SharedStore,
  sharedStore,
  sql,
  statusOn,
  untilExpired,
} from "./support.ts";

const unavailable = postgresUnavailableReason();
/** The account-lock key space of the PostgreSQL store (postgres/store.ts), to find the holder's backend. */
const ACCOUNT_LOCK_SPACE = 0x62746c6b;

const SCENARIOS = ["claimed", "answered", "persisted", "terminated", "fenced", "restart", "keys"] as const;
type Scenario = (typeof SCENARIOS)[number];

let postgres: PostgresServer;
let server: AuthorizationServer;
const stores = new Map<Scenario, SharedStore>();

const machinesOf = (scenario: Scenario): readonly [Machine, Machine, Machine] => {
  const [a, b, c] = stores.get(scenario)?.machines ?? [];
  if (a === undefined || b === undefined || c === undefined) throw new Error(`no machines for ${scenario}`);
  return [a, b, c];
};

const delta = (before: ServerCounters) => {
  const after = server.counters();
  return {
    refreshGrants: after.refreshGrants - before.refreshGrants,
    reuseErrors: after.reuseErrors - before.reuseErrors,
    tokenRequests: after.tokenRequests - before.tokenRequests,
  };
};

const exitOf = (r: BatonResult) => `exit ${r.code}${r.signal ? ` (${r.signal})` : ""}: ${r.stderr.trim()}`;

/** The generations in the store's `secrets` table, read without the key (never blanked: still there). */
const storedGenerations = async (store: SharedStore) =>
  (
    await sql<{ provider: string; account: string; generation: number }>(
      postgres,
      store.database,
      "SELECT provider, account, generation::int FROM baton.secrets ORDER BY provider, account",
    )
  ).map((row) => `${row.provider}:${row.account}#${row.generation}`);

/** Kills the hooked holder and waits until it is gone. */
const kill = async (holder: ReturnType<typeof hookedOn>) => {
  holder.child.kill("SIGKILL");
  const result = await holder.done;
  expect(result.signal).toBe("SIGKILL");
  expect(result.stdout).toBe("");
};

describe.skipIf(unavailable !== undefined)(
  `faults across machines on a PostgreSQL store${unavailable === undefined ? "" : ` (skipped: ${unavailable})`}`,
  () => {
    beforeAll(async () => {
      [postgres, server] = await Promise.all([
        startPostgres(),
        startAuthorizationServer({ accessTokenTtlSeconds: 4, latencyMs: 100 }),
      ]);
      await Promise.all(
        SCENARIOS.map(async (scenario) => {
          const store = await sharedStore(postgres, 3);
          stores.set(scenario, store);
          await loginOn(store.machines[0] as Machine, server);
        }),
      );
    });
    afterAll(async () => {
      await Promise.all([...stores.values()].map((store) => store.cleanup()));
      await Promise.all([server?.stop(), postgres?.stop()]);
    });

    it("holder killed before sending (claimed) - should free the lock at once and make exactly one refresh from another machine", async () => {
      const [holderMachine, waiterMachine, lateMachine] = machinesOf("claimed");
      await untilExpired(holderMachine);
      const before = server.counters();
      const holder = hookedOn(holderMachine, "claimed:hang");
      await holder.reached;
      const waiter = on(waiterMachine, ["token", REF]);
      await sleep(500);
      await kill(holder);
      const late = await on(lateMachine, ["token", REF]);
      const waited = await waiter;
      expect(waited.code, exitOf(waited)).toBe(0);
      expect(late.code, exitOf(late)).toBe(0);
      expect(late.stdout).toBe(waited.stdout);
      expect(delta(before)).toEqual({ refreshGrants: 1, reuseErrors: 0, tokenRequests: 1 });
      const timeline = await replayOn(lateMachine);
      const claims = timeline.events.filter((e) => e.type === "refresh.claimed").map((e) => [e.host, e.attempt]);
      expect(claims[0]).toEqual(["machine-0", 1]);
      expect(claims).toHaveLength(2);
      expect(timeline.summary).toMatchObject({ refreshes: 1, inDoubt: 0, revoked: 0 });
    });

    it("holder killed after the server rotated (answered) - should never present again: exit 3 naming the claim's process and machine, record kept", async () => {
      const [holderMachine, nextMachine, viewer] = machinesOf("answered");
      await untilExpired(holderMachine);
      const before = server.counters();
      const holder = hookedOn(holderMachine, "answered:hang");
      await holder.reached;
      const pid = holder.child.pid;
      await kill(holder);
      expect(delta(before)).toEqual({ refreshGrants: 1, reuseErrors: 0, tokenRequests: 1 });

      const next = await on(nextMachine, ["token", REF]);
      expect(next.code, exitOf(next)).toBe(3);
      expect(next.stdout).toBe("");
      expect(next.stderr).toContain(`process ${pid} on machine-0`);
      expect(next.stderr).toContain("baton login demo:you");
      expect(delta(before)).toEqual({ refreshGrants: 1, reuseErrors: 0, tokenRequests: 1 });

      const seen = await statusOn(viewer);
      expect(seen.inDoubt).toMatchObject({ generation: 1, pid, host: "machine-0" });
      expect(await storedGenerations(stores.get("answered") as SharedStore)).toEqual(["demo:you#1"]);
      const again = await on(viewer, ["token", REF]);
      expect(again.code).toBe(3);
      expect(delta(before).tokenRequests).toBe(1);
    });

    it("holder killed after storing (persisted) - should let every other machine adopt the new generation with no extra call", async () => {
      const [holderMachine, other, third] = machinesOf("persisted");
      await untilExpired(holderMachine);
      const before = server.counters();
      const holder = hookedOn(holderMachine, "persisted:hang");
      await holder.reached;
      await kill(holder);
      const results = await Promise.all([on(other, ["token", REF]), on(third, ["token", REF])]);
      expect(results.map((r) => r.code)).toEqual([0, 0]);
      expect(results[0]?.stdout).toBe(results[1]?.stdout);
      expect(delta(before)).toEqual({ refreshGrants: 1, reuseErrors: 0, tokenRequests: 1 });
      expect(await statusOn(third)).toMatchObject({ generation: 2, state: "valid", inDoubt: null });
    });

    it("pg_terminate_backend of the holder mid-refresh - should let the holder reconnect and store, and the others adopt", async () => {
      const [holderMachine, waiterMachine, viewer] = machinesOf("terminated");
      const store = stores.get("terminated") as SharedStore;
      await untilExpired(holderMachine);
      const before = server.counters();
      const holder = hookedOn(holderMachine, "presenting:stall-ms:3000");
      await holder.reached;
      const [lockHolder] = await postgres.query<{ pid: number }>(
        "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' " +
          "AND l.classid = $1 AND l.objsubid = 2 AND d.datname = $2",
        [ACCOUNT_LOCK_SPACE, store.database],
      );
      expect(lockHolder).toBeDefined();
      expect(await postgres.terminateBackend(lockHolder?.pid ?? 0)).toBe(true);
      const waiter = on(waiterMachine, ["token", REF]);
      const held = await holder.done;
      const waited = await waiter;
      expect(held.code, exitOf(held)).toBe(0);
      expect(waited.code, exitOf(waited)).toBe(0);
      expect(waited.stdout).toBe(held.stdout);
      expect(delta(before)).toEqual({ refreshGrants: 1, reuseErrors: 0, tokenRequests: 1 });
      expect(await statusOn(viewer)).toMatchObject({ generation: 2, state: "valid", inDoubt: null });
    });

    it("holder's connection lost after claiming, before sending - should never send once another machine took the next attempt", async () => {
      const [holderMachine, otherMachine, viewer] = machinesOf("fenced");
      const store = stores.get("fenced") as SharedStore;
      await untilExpired(holderMachine);
      const before = server.counters();
      // The holder claims, then stalls (its event loop blocked) while its connection is terminated.
      const holder = hookedOn(holderMachine, "claimed:stall-ms:3000");
      await holder.reached;
      const [lockHolder] = await sql<{ pid: number }>(
        postgres,
        "postgres",
        "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' " +
          "AND l.classid = $1 AND l.objsubid = 2 AND d.datname = $2",
        [ACCOUNT_LOCK_SPACE, store.database],
      );
      expect(await postgres.terminateBackend(lockHolder?.pid ?? 0)).toBe(true);
      const other = await on(otherMachine, ["token", REF]);
      expect(other.code, exitOf(other)).toBe(0);
      const held = await holder.done;
      // The holder comes back to a claim another machine superseded: it sends nothing (retryable, never a logout).
      expect(held.code, exitOf(held)).toBe(4);
      expect(held.stderr).toContain("nothing was sent");
      expect(delta(before)).toEqual({ refreshGrants: 1, reuseErrors: 0, tokenRequests: 1 });
      expect(await statusOn(viewer)).toMatchObject({ generation: 2, state: "valid", inDoubt: null });
      const again = await on(holderMachine, ["token", REF]);
      expect(again.stdout).toBe(other.stdout);
    });

    it("database crash-restarted during a 16-process herd - should make one refresh and leave nothing blanked", async () => {
      const machines = machinesOf("restart");
      const [first] = machines;
      await untilExpired(first);
      const before = server.counters();
      const holder = hookedOn(first, "presenting:stall-ms:1500");
      await holder.reached;
      const herd = herdOn(machines, 5);
      await sleep(300);
      const restartedAt = Date.now();
      await postgres.restart({ mode: "immediate" });
      const restartMs = Date.now() - restartedAt;
      const results = [await holder.done, ...(await herd)];
      const codes = results.map((r) => r.code);
      console.info(`[scaleout] immediate restart took ${restartMs} ms; exit codes ${JSON.stringify(codes)}`);
      // Every process gets the token, or (had the store been unreachable too long) a retryable error — never a logout.
      expect(codes.every((code) => code === 0 || code === 4)).toBe(true);
      const tokens = new Set(results.filter((r) => r.code === 0).map((r) => r.stdout.trim()));
      expect(tokens.size).toBe(1);
      expect(delta(before)).toMatchObject({ refreshGrants: 1, reuseErrors: 0 });
      expect(await postgres.readLog()).toMatch(
        /received immediate shutdown request[\s\S]*database system was interrupted/,
      );
      const after = await on(machines[2], ["token", REF]);
      expect(after.code, exitOf(after)).toBe(0);
      expect(tokens.has(after.stdout.trim())).toBe(true);
      expect(await statusOn(machines[1])).toMatchObject({ generation: 2, state: "valid", inDoubt: null });
    });

    it("wrong or missing key - should exit 2 naming the keys, send nothing and write nothing", async () => {
      const store = stores.get("keys") as SharedStore;
      const [machine] = machinesOf("keys");
      await untilExpired(machine);
      const before = server.counters();
      const rows = async () =>
        (
          await sql<{ n: string }>(
            postgres,
            store.database,
            "SELECT (SELECT count(*) FROM baton.events) + (SELECT count(*) FROM baton.claims) + " +
              "(SELECT sum(generation) FROM baton.secrets) AS n",
          )
        )[0]?.n;
      const rowsBefore = await rows();
      const wrongKey = StoreKey.generateStoreKey();
      const wrong = await on(machine, ["token", REF], { BATON_STORE_KEY: wrongKey.bytes.toString("hex") });
      expect(wrong.code, exitOf(wrong)).toBe(2);
      expect(wrong.stdout).toBe("");
      expect(wrong.stderr).toContain(wrongKey.id);
      expect(wrong.stderr).toMatch(/is not the key of the baton store .* \(key k[0-9a-f]{12}\)/);
      const missing = await on(machine, ["token", REF], { BATON_STORE_KEY: "" });
      expect(missing.code, exitOf(missing)).toBe(2);
      expect(missing.stderr).toContain("no store key is set");
      const malformed = await on(machine, ["token", REF], { BATON_STORE_KEY: "not-a-key" });
      expect(malformed.code).toBe(2);
      expect(malformed.stderr).toContain("BATON_STORE_KEY is not a store key");
      expect(delta(before)).toEqual({ refreshGrants: 0, reuseErrors: 0, tokenRequests: 0 });
      expect(await rows()).toBe(rowsBefore);
      for (const result of [wrong, missing, malformed]) expect(result.stderr).not.toContain(store.keyHex);
    });

    it("older schema - should be migrated on first use; newer schema - should be refused with nothing written", async () => {
      const older = await sharedStore(postgres, 1);
      const newer = await sharedStore(postgres, 1);
      try {
        const client = new pg.Client({ connectionString: older.url });
        await client.connect();
        try {
          await PostgresSchema.migrate(client, older.url, 1);
        } finally {
          await client.end();
        }
        const [oldMachine] = older.machines;
        const seenOld = await on(oldMachine as Machine, ["store", "status", "--json"]);
        expect(JSON.parse(seenOld.stdout)).toMatchObject({ schemaVersion: 1, knownSchemaVersion: 3 });
        await loginOn(oldMachine as Machine, server);
        const migrated = await on(oldMachine as Machine, ["store", "status", "--json"]);
        expect(JSON.parse(migrated.stdout)).toMatchObject({ schemaVersion: 3, accounts: [{ account: REF }] });

        const [newMachine] = newer.machines;
        const initialized = await on(newMachine as Machine, ["store", "init"]);
        expect(initialized.code, exitOf(initialized)).toBe(0);
        await sql(
          postgres,
          newer.database,
          "INSERT INTO baton.migrations (version, description) VALUES (99, 'from the future')",
        );
        const refused = await on(newMachine as Machine, [
          "provider",
          "add",
          "demo",
          "--issuer",
          server.issuer,
          "--client-id",
          server.clientId,
        ]);
        expect(refused.code, exitOf(refused)).toBe(2);
        expect(refused.stderr).toContain("schema version 99, newer than this baton knows (3)");
        const status = await on(newMachine as Machine, ["store", "status"]);
        expect(status.code).toBe(2);
        expect(status.stdout).toContain("newer than this baton");
        const [registry] = await sql<{ n: number }>(
          postgres,
          newer.database,
          "SELECT count(*)::int AS n FROM baton.registry",
        );
        expect(registry?.n).toBe(0);
      } finally {
        await Promise.all([older.cleanup(), newer.cleanup()]);
      }
    });
  },
);
