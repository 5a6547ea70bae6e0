/**
 * Rotating the shared store's key (`baton store rotate-key`, docs/scale-out.md "Rotating the store key"), against a
 * real PostgreSQL 15 and oidc-provider with rotating refresh tokens and reuse detection:
 *
 * - `store init --generate-key FILE` makes the store's first key in a new 0600 file;
 * - every sealed record (the key check, the provider registry, each secret) is re-sealed with the new key in one
 *   transaction; the new key reads the same token with no refresh, the old key is refused (exit 2) with nothing sent;
 *   running it again changes nothing;
 * - a broker still running with the old key refreshes nothing once the store is rotated (the record it reads is sealed
 *   with a key it does not have, so it stops before anything is sent and never holds a rotated token it could not
 *   store); restarted with the new key it refreshes once — no reuse, no revocation;
 * - a process that read the credentials with the old key just before the rotation has its claim refused before it is
 *   marked presenting, and its write refused: the fences on the store's key;
 * - a rotation SIGKILLed inside its transaction (stalled by a trigger on its last statement) leaves every record as it
 *   was, the old key working;
 * - a rotation waits 30 s for a refresh that hangs between its claim and its store, and 10 s for another transaction
 *   holding the tables, then exits 4 naming why, with nothing changed;
 * - a rotation asked for while a refresh is between its claim and its store waits for it: one refresh, stored and then
 *   re-sealed, nothing presented twice.
 */
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PostgresClaimStore, PostgresSecretStore, PostgresSession, PostgresStore, StoreKey } from "@baton/adapters";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { Effect } from "effect";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBroker, startBroker, stopBroker, thin } from "../serve/broker-support.ts";
import { REF, sleep } from "../support/account.ts";
import { startBaton } from "../support/baton-cli.ts";
import { type PostgresServer, postgresUnavailableReason, startPostgres } from "../support/postgres.ts";
import { countsSince } from "../support/server-counts.ts";
import {
  hookedOn,
  loginOn,
  type Machine,
  on,
  replayOn,
  type SharedStore,
  sharedStore,
  sql,
  statusOn,
} from "./support.ts";

const unavailable = postgresUnavailableReason();
const TTL_S = 6;

let postgres: PostgresServer;
let steady: AuthorizationServer;
let short: AuthorizationServer;
let keys: string;
const stores: Array<SharedStore> = [];

beforeAll(async () => {
  if (unavailable !== undefined) return;
  [postgres, steady, short] = await Promise.all([
    startPostgres({ fsync: false }),
    startAuthorizationServer({ accessTokenTtlSeconds: 600 }),
    startAuthorizationServer({ accessTokenTtlSeconds: TTL_S, latencyMs: 50 }),
  ]);
  keys = await mkdtemp(join(tmpdir(), "baton-store-keys-"));
});

afterAll(async () => {
  await Promise.all(stores.map((store) => store.cleanup()));
  await Promise.all([steady?.stop(), short?.stop(), postgres?.stop()]);
  if (keys !== undefined) await rm(keys, { recursive: true, force: true });
});

/** A new store of `count` machines, with `demo:you` logged in through machine 0 against `server`. */
const loggedInStore = async (server: AuthorizationServer, count: number) => {
  const store = await sharedStore(postgres, count);
  stores.push(store);
  const machines = store.machines as ReadonlyArray<Machine>;
  const first = machines[0];
  if (first === undefined) throw new Error("no machine");
  await loginOn(first, server);
  return { store, machines };
};

/** The environment that gives a machine the key in `file` instead of the store's first key. */
const withKeyFile = (file: string) => ({ BATON_STORE_KEY: "", BATON_STORE_KEY_FILE: file });

/** The id of the key in `file`. */
const keyIdOf = (file: string): string => {
  const key = StoreKey.keyFromFile(file, "the test's key file");
  if (key instanceof Error) throw key;
  return key.id;
};

/** The key ids of every sealed record of `store`: the key check, the registry, each secret. */
const sealedWith = async (store: SharedStore) => {
  const rows = await sql<{ what: string; key_id: string }>(
    postgres,
    store.database,
    "SELECT 'check' AS what, key_id FROM baton.key_check UNION ALL SELECT 'registry', key_id FROM baton.registry " +
      "UNION ALL SELECT provider || ':' || account, key_id FROM baton.secrets ORDER BY what",
  );
  return Object.fromEntries(rows.map((row) => [row.what, row.key_id]));
};

describe.skipIf(unavailable !== undefined)(
  `rotating the store key${unavailable === undefined ? "" : ` (skipped: ${unavailable})`}`,
  () => {
    it("store rotate-key --generate-key - should re-seal every record with the new key; the new key reads the same token, the old one is refused with nothing sent", async () => {
      const { store, machines } = await loggedInStore(steady, 2);
      const [first, second] = machines;
      if (first === undefined || second === undefined) throw new Error("two machines");
      expect((await statusOn(first)).generation).toBe(1);
      const before = await on(second, ["token", REF]);
      expect(before.code, before.stderr).toBe(0);
      const oldId = (await sealedWith(store)).check;
      const counters = steady.counters();

      const file = join(keys, "first.key");
      const rotatingAt = Date.now();
      const rotated = await on(first, ["store", "rotate-key", "--generate-key", file]);
      expect(rotated.code, rotated.stderr).toBe(0);
      const newId = keyIdOf(file);
      expect(rotated.stdout).toContain(
        `sealed with key ${newId} now (was ${oldId}): 1 secret(s) and the provider registry re-sealed`,
      );
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(await sealedWith(store)).toEqual({ check: newId, registry: newId, "demo:you": newId });
      const [sealed] = await sql<{ clear: boolean }>(
        postgres,
        store.database,
        "SELECT position(convert_to($1, 'UTF8') IN sealed) > 0 AS clear FROM baton.secrets",
        [before.stdout.trim()],
      );
      expect(sealed).toEqual({ clear: false });

      const status = await on(second, ["store", "status", "--json"], withKeyFile(file));
      expect(status.code, status.stderr).toBe(0);
      const report = JSON.parse(status.stdout) as { key: string; storeKeyId: string; storeKeySince: number };
      expect(report).toMatchObject({ key: "ok", storeKeyId: newId });
      expect(report.storeKeySince).toBeGreaterThanOrEqual(rotatingAt - 1_000);
      expect(report.storeKeySince).toBeLessThanOrEqual(Date.now() + 1_000);

      // The new key on another machine: the same token, no refresh.
      const after = await on(second, ["token", REF], withKeyFile(file));
      expect(after).toMatchObject({ code: 0, stdout: before.stdout });
      // The old key: refused before anything is read, written or sent.
      const refused = await on(second, ["token", REF]);
      expect(refused.code).toBe(2);
      expect(refused.stdout).toBe("");
      expect(refused.stderr).toContain(`the store key given (key ${oldId}) is not the key of the baton store`);
      expect(refused.stderr).toContain(`(key ${newId})`);
      const listed = await on(second, ["provider", "list"]);
      expect(listed.code).toBe(2);

      // Again, from the old key to the same new one: nothing to do. To a key that is the one given: refused.
      const again = await on(first, ["store", "rotate-key", "--to-key-file", file]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain(`sealed with key ${newId} already: nothing to do`);
      const json = await on(first, ["store", "rotate-key", "--to-key-file", file, "--json"]);
      expect(JSON.parse(json.stdout)).toEqual({
        version: 1,
        server: expect.stringContaining(store.database),
        from: oldId,
        to: newId,
        secrets: 0,
        registry: false,
        unchanged: true,
        keyFile: file,
      });
      const same = await on(first, ["store", "rotate-key", "--to-key-file", file], withKeyFile(file));
      expect(same.code).toBe(2);
      expect(same.stderr).toContain(`the new key is the store key given (key ${newId})`);
      expect(await sealedWith(store)).toEqual({ check: newId, registry: newId, "demo:you": newId });
      expect(steady.counters().refreshGrants - counters.refreshGrants).toBe(0);
    });

    it("store rotate-key with bad input or a corrupted store - should exit 2 naming the problem and change nothing", async () => {
      const { store, machines } = await loggedInStore(steady, 1);
      const [first] = machines;
      if (first === undefined) throw new Error("one machine");
      const sealedBefore = await sealedWith(store);
      const exists = join(keys, "exists.key");
      expect((await on(first, ["store", "rotate-key", "--generate-key", exists])).code).toBe(0);
      const sealedAfterFirst = await sealedWith(store);
      for (const [args, message] of [
        [["store", "rotate-key"], "--to-key-file FILE, or make one with --generate-key FILE"],
        [["store", "rotate-key", "--generate-key", exists], `--generate-key: cannot create ${exists}`],
        [["store", "rotate-key", "--to-key-file", join(keys, "missing.key")], "cannot be read (ENOENT)"],
      ] as const) {
        const result = await on(first, args, withKeyFile(exists));
        expect(result.code, result.stderr).toBe(2);
        expect(result.stderr).toContain(message);
      }
      expect(sealedAfterFirst).not.toEqual(sealedBefore);
      expect(await sealedWith(store)).toEqual(sealedAfterFirst);

      // A current key that is not the store's.
      const stranger = join(keys, "stranger.key");
      StoreKey.writeKeyFile(stranger, StoreKey.generateStoreKey());
      const next = join(keys, "next.key");
      StoreKey.writeKeyFile(next, StoreKey.generateStoreKey());
      const wrong = await on(first, ["store", "rotate-key", "--to-key-file", next], withKeyFile(stranger));
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toContain(
        `the key given (key ${keyIdOf(stranger)}) is not the key of the baton store at ${store.url} (key ${keyIdOf(exists)})`,
      );
      // A corrupted secret: named, and nothing rotated (the registry is not re-sealed either).
      const bytes = await sql<{ sealed: Buffer }>(postgres, store.database, "SELECT sealed FROM baton.secrets");
      await sql(postgres, store.database, "UPDATE baton.secrets SET sealed = sealed || '\\x00'::bytea");
      const corrupt = await on(first, ["store", "rotate-key", "--to-key-file", next], withKeyFile(exists));
      expect(corrupt.code).toBe(2);
      expect(corrupt.stderr).toContain(
        `the secret of demo:you (generation 1, key ${keyIdOf(exists)}) does not open with key ${keyIdOf(exists)}; nothing was rotated`,
      );
      expect(await sealedWith(store)).toEqual(sealedAfterFirst);
      await sql(postgres, store.database, "UPDATE baton.secrets SET sealed = $1", [bytes[0]?.sealed]);
      const repaired = await on(first, ["store", "rotate-key", "--to-key-file", next], withKeyFile(exists));
      expect(repaired.code, repaired.stderr).toBe(0);
      expect(await sealedWith(store)).toEqual({
        check: keyIdOf(next),
        registry: keyIdOf(next),
        "demo:you": keyIdOf(next),
      });
    });

    it("store rotate-key SIGKILLed inside its transaction - should leave every record sealed with the old key, the old key working", async () => {
      const { store, machines } = await loggedInStore(steady, 2);
      const [first, second] = machines;
      if (first === undefined || second === undefined) throw new Error("two machines");
      const before = await on(second, ["token", REF]);
      expect(before.code, before.stderr).toBe(0);
      const sealedBefore = await sealedWith(store);
      const bytesBefore = await sql<{ sealed: Buffer }>(postgres, store.database, "SELECT sealed FROM baton.secrets");
      // The fault: the key check's update (the rotation's last statement, after every secret and the registry were
      // re-sealed) sleeps in the database, long enough to kill the rotating process there.
      await sql(
        postgres,
        store.database,
        "CREATE FUNCTION public.stall() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(2); RETURN NEW; END $$",
      );
      await sql(
        postgres,
        store.database,
        "CREATE TRIGGER stall BEFORE UPDATE ON baton.key_check FOR EACH ROW EXECUTE FUNCTION public.stall()",
      );
      const file = join(keys, "killed.key");
      const rotating = startBaton(["store", "rotate-key", "--generate-key", file], {
        home: first.home,
        env: first.env,
        timeoutMs: 60_000,
      });
      const stalled =
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'UPDATE baton.key_check%' AND state = 'active'";
      while ((await sql<{ n: number }>(postgres, store.database, stalled))[0]?.n !== 1) await sleep(20);
      rotating.child.kill("SIGKILL");
      expect((await rotating.done).signal).toBe("SIGKILL");
      // The backend finds its client gone once the statement ends, and rolls the transaction back.
      const open = "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'UPDATE baton.key_check%'";
      while ((await sql<{ n: number }>(postgres, store.database, open))[0]?.n !== 0) await sleep(50);
      await sql(postgres, store.database, "DROP TRIGGER stall ON baton.key_check");

      expect(await sealedWith(store)).toEqual(sealedBefore);
      const bytesAfter = await sql<{ sealed: Buffer }>(postgres, store.database, "SELECT sealed FROM baton.secrets");
      expect(bytesAfter.map((row) => row.sealed.toString("hex"))).toEqual(
        bytesBefore.map((row) => row.sealed.toString("hex")),
      );
      expect(await on(second, ["token", REF])).toMatchObject({ code: 0, stdout: before.stdout });
      const withNew = await on(second, ["token", REF], withKeyFile(file));
      expect(withNew.code).toBe(2);
      // And the rotation, asked again, goes through.
      const again = await on(first, ["store", "rotate-key", "--to-key-file", file]);
      expect(again.code, again.stderr).toBe(0);
      expect(await on(second, ["token", REF], withKeyFile(file))).toMatchObject({ code: 0, stdout: before.stdout });
    });

    it("store rotate-key while a refresh hangs, or a transaction holds the tables - should exit 4 after its wait, naming why, and change nothing", async () => {
      const { store, machines } = await loggedInStore(steady, 2);
      const [first, second] = machines;
      if (first === undefined || second === undefined) throw new Error("two machines");
      const sealedBefore = await sealedWith(store);
      const next = join(keys, "waited.key");
      StoreKey.writeKeyFile(next, StoreKey.generateStoreKey());

      // Another transaction holding a write lock on the claims table: the rotation gives up after 10 s.
      const holder = new pg.Client({
        host: postgres.socketDir,
        port: postgres.port,
        user: "postgres",
        database: store.database,
      });
      await holder.connect();
      try {
        await holder.query("BEGIN");
        await holder.query("LOCK TABLE baton.claims IN ROW EXCLUSIVE MODE");
        const locked = await on(first, ["store", "rotate-key", "--to-key-file", next]);
        expect(locked.code).toBe(4);
        expect(locked.stderr).toContain(
          "stayed locked by another transaction for 10 s; nothing was rotated: try again",
        );
        await holder.query("ROLLBACK");
      } finally {
        await holder.end();
      }
      // A refresh that claimed and hangs before sending: its claimant is alive, so the rotation waits 30 s for it.
      const hanging = hookedOn(second, "presenting:hang", {}, ["refresh", REF]);
      try {
        await hanging.reached;
        const waited = await on(first, ["store", "rotate-key", "--to-key-file", next]);
        expect(waited.code).toBe(4);
        expect(waited.stderr).toContain(
          `a refresh is still in progress after 30 s in the baton store at ${store.url} ` +
            `(demo:you generation 1 by pid ${hanging.child.pid} on machine-1); nothing was rotated: try again`,
        );
        expect(await sealedWith(store)).toEqual(sealedBefore);
      } finally {
        hanging.child.kill("SIGKILL");
        await hanging.done;
      }

      expect(await sealedWith(store)).toEqual(sealedBefore);
      // The claimant killed after marking its claim presenting counts as reconnecting for 5 s from when the rotation
      // first finds it gone (it could still store an answer), then as gone: the rotation waits that out, then goes.
      const startedAt = performance.now();
      const rotated = await on(first, ["store", "rotate-key", "--to-key-file", next]);
      expect(rotated.code, rotated.stderr).toBe(0);
      expect(performance.now() - startedAt).toBeGreaterThan(4_500);
    });

    it("store init --generate-key on a new store - should write the key to a new 0600 file and seal the store with it; refuse an existing file or a key already set", async () => {
      const store = await sharedStore(postgres, 1);
      stores.push(store);
      const [machine] = store.machines;
      if (machine === undefined) throw new Error("one machine");
      const file = join(keys, "init.key");
      const noKey = { BATON_STORE_KEY: "" };
      const initialized = await on(machine, ["store", "init", "--generate-key", file], noKey);
      expect(initialized.code, initialized.stderr).toBe(0);
      const id = keyIdOf(file);
      expect(initialized.stdout).toContain(`its key is ${id}`);
      expect(initialized.stdout).toContain(`set BATON_STORE_KEY_FILE=${file} on every machine`);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(await sealedWith(store)).toEqual({ check: id });
      const existing = await on(machine, ["store", "init", "--generate-key", file], noKey);
      expect(existing.code).toBe(2);
      expect(existing.stderr).toContain(`--generate-key: cannot create ${file} (EEXIST); it must not exist yet`);
      const keySet = await on(
        machine,
        ["store", "init", "--generate-key", join(keys, "second.key")],
        withKeyFile(file),
      );
      expect(keySet.code).toBe(2);
      expect(keySet.stderr).toContain(`a store key is already set (key ${id})`);
      expect(await sealedWith(store)).toEqual({ check: id });
    });

    it("a broker still running with the old key - should refresh nothing once the store is rotated, and once restarted with the new key refresh once", async () => {
      const { machines } = await loggedInStore(short, 2);
      const [first, second] = machines;
      if (first === undefined || second === undefined) throw new Error("two machines");
      const clientAdded = await on(first, ["serve", "client", "add", "ci"]);
      expect(clientAdded.code, clientAdded.stderr).toBe(0);
      const clientToken = clientAdded.stdout.trim();
      let broker: RunningBroker = await startBroker(second.home, ["--listen", "127.0.0.1:0", "--insecure-loopback"], {
        env: second.env,
      });
      try {
        const lent = await thin(["token", REF], { server: broker.server, token: clientToken });
        expect(lent.code, lent.stderr).toBe(0);
        const file = join(keys, "broker.key");
        const rotated = await on(first, ["store", "rotate-key", "--generate-key", file]);
        expect(rotated.code, rotated.stderr).toBe(0);
        const status = await statusOn({ ...first, env: { ...first.env, ...withKeyFile(file) } });
        const counters = short.counters();

        // Past the expiry of the token it holds: its timer fired and its claim was refused before sending.
        await sleep((status.expiresAt ?? 0) - Date.now() + 500);
        expect(short.counters().refreshGrants - counters.refreshGrants).toBe(0);
        expect(broker.stderr()).toContain("the store's key was rotated after this process started");
        const stale = await thin(["token", REF], { server: broker.server, token: clientToken });
        expect(stale.code).toBe(4);
        expect(stale.stderr).toContain("rotated");
        const unchanged = await statusOn({ ...first, env: { ...first.env, ...withKeyFile(file) } });
        expect(unchanged.generation).toBe(status.generation);

        await stopBroker(broker);
        broker = await startBroker(second.home, ["--listen", "127.0.0.1:0", "--insecure-loopback"], {
          env: { ...second.env, ...withKeyFile(file) },
        });
        const served = await thin(["token", REF], { server: broker.server, token: clientToken });
        expect(served.code, served.stderr).toBe(0);
        expect(countsSince(short, counters)).toEqual({ refreshGrants: 1, reuseErrors: 0, grantsRevoked: 0 });
      } finally {
        await stopBroker(broker);
      }
    });

    it("a process that read with the old key before the rotation - should have its claim refused before presenting and its write refused", async () => {
      const { store, machines } = await loggedInStore(steady, 1);
      const [first] = machines;
      if (first === undefined) throw new Error("one machine");
      const oldKey = StoreKey.parseStoreKey(store.keyHex, "the test key");
      if (oldKey instanceof Error) throw oldKey;
      const acquired = PostgresSession.acquireSession(store.url);
      try {
        // As a long-running process: ready (its key checked) and the credentials read, before the rotation.
        const pgStore = PostgresStore.make(oldKey, acquired.session);
        const secrets = PostgresSecretStore.make(pgStore);
        const claims = PostgresClaimStore.make(pgStore);
        const account = { provider: "demo", account: "you" };
        const current = await Effect.runPromise(secrets.read(account));
        if (current === undefined) throw new Error("no credentials");
        const rotated = await on(first, ["store", "rotate-key", "--generate-key", join(keys, "late.key")]);
        expect(rotated.code, rotated.stderr).toBe(0);
        const newId = keyIdOf(join(keys, "late.key"));

        const claimant = { host: "old-key-machine", pid: process.pid, at: Date.now() };
        const presented = await Effect.runPromise(
          Effect.scoped(
            Effect.gen(function* () {
              const acquisition = yield* claims.acquire(account, current.generation, {
                claimant,
                refreshFp: undefined,
              });
              if (acquisition._tag !== "Granted") return `not granted: ${acquisition._tag}`;
              return yield* claims.markPresenting(account, current.generation, acquisition.attempt).pipe(
                Effect.as("presenting"),
                Effect.catch((failure) => Effect.succeed(failure.message)),
              );
            }),
          ),
        );
        expect(presented).toContain(`was rotated to key ${newId} after this process started with key ${oldKey.id}`);
        const written = await Effect.runPromise(
          secrets.write(account, { ...current, generation: current.generation + 1 }, current.generation).pipe(
            Effect.as("written"),
            Effect.catch((failure) => Effect.succeed(failure.message)),
          ),
        );
        expect(written).toContain(`was rotated to key ${newId}`);
        expect(await sealedWith(store)).toEqual({ check: newId, registry: newId, "demo:you": newId });
        expect(
          (await statusOn({ ...first, env: { ...first.env, ...withKeyFile(join(keys, "late.key")) } })).generation,
        ).toBe(current.generation);
      } finally {
        await acquired.release();
      }
    });

    it("store rotate-key during a refresh - should wait until it is stored, then re-seal it: one refresh, nothing presented twice", async () => {
      const { store, machines } = await loggedInStore(steady, 2);
      const [first, second] = machines;
      if (first === undefined || second === undefined) throw new Error("two machines");
      const counters = steady.counters();
      const refreshing = hookedOn(second, "presenting:stall-ms:2500", {}, ["refresh", REF]);
      await refreshing.reached;

      const file = join(keys, "during.key");
      const startedAt = performance.now();
      const rotated = await on(first, ["store", "rotate-key", "--generate-key", file]);
      const waitedMs = performance.now() - startedAt;
      const refreshed = await refreshing.done;
      expect(refreshed.code, refreshed.stderr).toBe(0);
      expect(rotated.code, rotated.stderr).toBe(0);
      expect(waitedMs).toBeGreaterThan(1_500);

      const newId = keyIdOf(file);
      expect(await sealedWith(store)).toEqual({ check: newId, registry: newId, "demo:you": newId });
      const withNewKey = { ...first, env: { ...first.env, ...withKeyFile(file) } };
      expect((await statusOn(withNewKey)).generation).toBe(2);
      // The stored generation refreshes with the new key: its refresh token was not presented before.
      const forced = await on(first, ["refresh", REF], withKeyFile(file));
      expect(forced.code, forced.stderr).toBe(0);
      expect(countsSince(steady, counters)).toEqual({ refreshGrants: 2, reuseErrors: 0, grantsRevoked: 0 });
      expect((await replayOn(withNewKey)).anomalies).toEqual([]);
    });
  },
);
