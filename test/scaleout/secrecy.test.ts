/**
 * The secrecy scan of the shared store (I8): after a login, refreshes on several machines, a forced refresh, an export,
 * status, replay, doctor and store status, with the server logging every statement and its parameters (`log_statement = all`), no access
 * or refresh token the store ever held appears anywhere in a `pg_dump` of the database, nor in the server's log. The
 * tokens are collected at run time from the store itself (opened with the test's key) and from `baton token`'s
 * stdout — the one place a token may be printed.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { PostgresSecretStore, StoreKey } from "@baton/adapters";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REF } from "../support/account.ts";
import { type PostgresServer, postgresUnavailableReason, startPostgres } from "../support/postgres.ts";
import { herdOn, loginOn, on, type SharedStore, sharedStore, sql, untilExpired } from "./support.ts";

const unavailable = postgresUnavailableReason();

let postgres: PostgresServer;
let server: AuthorizationServer;
let store: SharedStore;

const pgDump = (database: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const binary = join("/usr/lib/postgresql/15/bin", "pg_dump");
    const args = ["-h", postgres.socketDir, "-p", String(postgres.port), "-U", "postgres", "--inserts", database];
    execFile(binary, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      error === null ? resolve(stdout) : reject(new Error(`pg_dump failed: ${stderr}`)),
    );
  });

describe.skipIf(unavailable !== undefined)(
  `secrecy of the PostgreSQL store${unavailable === undefined ? "" : ` (skipped: ${unavailable})`}`,
  () => {
    beforeAll(async () => {
      [postgres, server] = await Promise.all([
        startPostgres({ settings: { log_statement: "all", log_min_duration_statement: 0, log_connections: "on" } }),
        startAuthorizationServer({ accessTokenTtlSeconds: 3, latencyMs: 20 }),
      ]);
      store = await sharedStore(postgres, 3);
    });
    afterAll(async () => {
      await store?.cleanup();
      await Promise.all([server?.stop(), postgres?.stop()]);
    });

    it("pg_dump and the server log - should hold no access or refresh token, only sealed records", async () => {
      const [first, second, third] = store.machines;
      if (first === undefined || second === undefined || third === undefined) throw new Error("three machines");
      const key = StoreKey.parseStoreKey(store.keyHex, "the test key");
      if (key instanceof Error) throw key;
      const tokens = new Set<string>();
      /** Every token the store holds now, opened with the test's key. */
      const collect = async () => {
        const rows = await sql<{
          provider: string;
          account: string;
          generation: number;
          key_id: string;
          sealed: Buffer;
        }>(postgres, store.database, "SELECT provider, account, generation::int, key_id, sealed FROM baton.secrets");
        for (const row of rows) {
          const opened = PostgresSecretStore.openSecret(key, { provider: row.provider, account: row.account }, row);
          if (!("ok" in opened)) throw new Error(`a secret does not open: ${opened.problem}`);
          tokens.add(opened.ok.accessToken);
          if (opened.ok.refreshToken !== undefined) tokens.add(opened.ok.refreshToken);
        }
      };
      const debug = { BATON_DEBUG: "1" };

      await loginOn(first, server);
      await collect();
      for (const machine of [second, third]) tokens.add((await on(machine, ["token", REF], debug)).stdout.trim());
      for (let rotation = 0; rotation < 2; rotation++) {
        await untilExpired(first);
        for (const result of await herdOn(store.machines, 2)) {
          expect(result.code).toBe(0);
          tokens.add(result.stdout.trim());
        }
        await collect();
      }
      await on(second, ["refresh", REF], debug);
      await collect();
      for (const args of [["status", "--json"], ["replay", REF, "--json"], ["doctor"], ["store", "status"]]) {
        const result = await on(third, args, debug);
        for (const secret of tokens) expect(result.stdout + result.stderr).not.toContain(secret);
      }
      const exported = await on(first, ["export", REF], { BATON_PASSPHRASE: "a passphrase for the test" });
      expect(exported.code).toBe(0);
      tokens.delete("");
      // A login, two herd rotations and a forced refresh: four generations, each an access and a refresh token.
      expect(tokens.size).toBeGreaterThanOrEqual(8);

      const dump = await pgDump(store.database);
      const log = await postgres.readLog();
      // The scan sees what it should: the tables, the sealed rows, the statements.
      expect(dump).toContain("CREATE TABLE baton.secrets");
      expect(dump).toMatch(/INSERT INTO baton\.events/);
      expect(dump).toMatch(/INSERT INTO baton\.secrets VALUES \('demo', 'you', 4, 'k[0-9a-f]{12}', '\\x[0-9a-f]+'/);
      expect(log).toContain("INSERT INTO baton.secrets");
      // In clear, and hex-encoded as bytea values are dumped and logged.
      for (const secret of [...tokens].flatMap((t) => [t, Buffer.from(t, "utf8").toString("hex")])) {
        expect(dump.includes(secret), "a token in the pg_dump").toBe(false);
        expect(log.includes(secret), "a token in the server log").toBe(false);
      }
      expect(dump.includes(store.keyHex)).toBe(false);
      expect(log.includes(store.keyHex)).toBe(false);
    });
  },
);
