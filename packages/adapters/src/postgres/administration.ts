/**
 * What `baton store init`, `baton store status` and `baton doctor` ask of the PostgreSQL store, read-only except
 * `initialize`: the server and its version, the schema version against this build's, whether the key given is the
 * store's, the accounts (their current generations, read without opening anything), and the claims that are stuck —
 * presented by a claimant the database no longer sees, with no newer generation stored (in doubt, I9) — or held by a
 * live claimant for longer than a refresh takes. None of it needs the store to be ready: these are the commands that
 * say why it is not.
 */
import { InvalidInput, type Retryable } from "@baton/core";
import { Effect } from "effect";
import type pg from "pg";
import { PRESENCE_GRACE_MS, presenceHeld } from "./presence.ts";
import { checkKey, migrate, readinessError, SCHEMA_VERSION, schemaVersion } from "./schema.ts";
import type { PostgresStoreShape } from "./store.ts";

export interface StoredAccount {
  readonly account: string;
  readonly generation: number;
  readonly keyId: string;
  /** When the generation was stored, by the database's clock (ms since the epoch). */
  readonly updatedAt: number;
}

export interface StuckClaim {
  readonly account: string;
  readonly generation: number;
  readonly attempt: number;
  readonly host: string;
  readonly pid: number;
  /** "in-doubt": presented, its claimant gone; "long-held": its claimant alive, open for over a minute. */
  readonly kind: "in-doubt" | "long-held";
  readonly ageSeconds: number;
}

export interface StoreReport {
  readonly server: string;
  readonly serverVersion: string;
  readonly schemaVersion: number;
  readonly knownSchemaVersion: number;
  /** The key check: "ok", "wrong" (another key's store), "missing" (no key given), "unset" (the store has none yet). */
  readonly key: "ok" | "wrong" | "missing" | "unset";
  readonly keyId: string | null;
  readonly storeKeyId: string | null;
  /** Since when the store is sealed with its key (its first use, or its last `rotate-key`), ms since the epoch. */
  readonly storeKeySince: number | null;
  readonly accounts: ReadonlyArray<StoredAccount>;
  readonly stuckClaims: ReadonlyArray<StuckClaim>;
  /** Records moved to `baton.quarantine` (they did not open or decode). */
  readonly quarantined: number;
  readonly connections: number;
}

const LONG_HELD_SECONDS = 60;

const stuckClaims = async (client: pg.Client): Promise<ReadonlyArray<StuckClaim>> => {
  const found = await client.query<{
    provider: string;
    account: string;
    generation: number;
    attempt: number;
    host: string;
    pid: number;
    held: boolean;
    presenting: boolean;
    lost_long: boolean;
    age: number;
  }>(
    "SELECT c.provider, c.account, c.generation, c.attempt, c.host, c.pid, c.presenting, " +
      `${presenceHeld("c.presence")} AS held, ` +
      "(c.presence_lost_at IS NOT NULL AND c.presence_lost_at <= now() - make_interval(secs => $1::float8 / 1000)) AS lost_long, " +
      "extract(epoch FROM now() - c.created_at)::float8 AS age " +
      "FROM baton.claims c LEFT JOIN baton.secrets s ON s.provider = c.provider AND s.account = c.account " +
      "WHERE c.released IS NULL AND (s.generation IS NULL OR s.generation <= c.generation) " +
      "ORDER BY c.provider, c.account, c.generation, c.attempt",
    [PRESENCE_GRACE_MS],
  );
  return found.rows.flatMap((row): ReadonlyArray<StuckClaim> => {
    const base = {
      account: `${row.provider}:${row.account}`,
      generation: row.generation,
      attempt: row.attempt,
      host: row.host,
      pid: row.pid,
      ageSeconds: Math.round(row.age),
    };
    if (row.held) return row.age > LONG_HELD_SECONDS ? [{ ...base, kind: "long-held" }] : [];
    return row.presenting ? [{ ...base, kind: "in-doubt" }] : [];
  });
};

/** The report of `store status` / `doctor`; fails only when the server cannot be reached or refuses. */
export const report = (store: PostgresStoreShape): Effect.Effect<StoreReport, InvalidInput | Retryable> =>
  Effect.tryPromise({
    try: () =>
      store.session.retrying(async (client): Promise<StoreReport> => {
        const server = await client.query<{ version: string; connections: number }>(
          "SELECT current_setting('server_version') AS version, " +
            "(SELECT count(*)::int FROM pg_stat_activity WHERE application_name = 'baton' AND datname = current_database()) AS connections",
        );
        const version = await schemaVersion(client);
        const base = {
          server: store.where,
          serverVersion: server.rows[0]?.version ?? "unknown",
          schemaVersion: version,
          knownSchemaVersion: SCHEMA_VERSION,
          keyId: store.key?.id ?? null,
          connections: server.rows[0]?.connections ?? 0,
        };
        if (version === 0) {
          return {
            ...base,
            key: store.key === undefined ? "missing" : "unset",
            storeKeyId: null,
            storeKeySince: null,
            accounts: [],
            stuckClaims: [],
            quarantined: 0,
          };
        }
        const check = await client.query<{ key_id: string; since: number }>(
          "SELECT key_id, (extract(epoch FROM created_at) * 1000)::float8 AS since FROM baton.key_check",
        );
        const storeKeyId = check.rows[0]?.key_id ?? null;
        const since = check.rows[0]?.since;
        const key =
          store.key === undefined
            ? "missing"
            : storeKeyId === null
              ? "unset"
              : storeKeyId === store.key.id
                ? "ok"
                : "wrong";
        const accounts = await client.query<{
          provider: string;
          account: string;
          generation: number;
          key_id: string;
          updated: number;
        }>(
          "SELECT provider, account, generation, key_id, (extract(epoch FROM updated_at) * 1000)::float8 AS updated " +
            "FROM baton.secrets ORDER BY provider, account",
        );
        return {
          ...base,
          key,
          storeKeyId,
          storeKeySince: since === undefined ? null : Math.round(since),
          accounts: accounts.rows.map((row) => ({
            account: `${row.provider}:${row.account}`,
            generation: row.generation,
            keyId: row.key_id,
            updatedAt: Math.round(row.updated),
          })),
          stuckClaims: await stuckClaims(client),
          quarantined:
            version >= 2
              ? ((await client.query<{ n: number }>("SELECT count(*)::int AS n FROM baton.quarantine")).rows[0]?.n ?? 0)
              : 0,
        };
      }),
    catch: (error) => readinessError(store.where, error),
  });

/**
 * `baton store init`: creates or migrates the schema (idempotent) and records the key check with the key given;
 * returns the schema versions before and after.
 */
export const initialize = (
  store: PostgresStoreShape,
): Effect.Effect<{ readonly from: number; readonly to: number }, InvalidInput | Retryable> =>
  Effect.gen(function* () {
    const key = store.key;
    if (key === undefined) {
      return yield* new InvalidInput({
        reason: "config",
        message:
          "no store key: set BATON_STORE_KEY or BATON_STORE_KEY_FILE, or let `baton store init --generate-key FILE` make one",
      });
    }
    return yield* Effect.tryPromise({
      try: () =>
        store.session.retrying(async (client) => {
          const migrated = await migrate(client, store.where);
          await checkKey(client, store.where, key);
          return migrated;
        }),
      catch: (error) => readinessError(store.where, error),
    });
  });
