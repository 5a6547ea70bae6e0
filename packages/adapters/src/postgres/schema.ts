/**
 * Applying the PostgreSQL store's migrations (migrations.ts), and the store's readiness check run once per process
 * before the first use.
 *
 * Migrations are applied in order, each recorded in `baton.migrations`, all in one transaction serialized by a
 * transaction advisory lock (so processes starting together on a fresh database migrate it once, and a failure leaves
 * it as it was). `baton store init` applies them; so does the first use of the store, so a new version of baton
 * upgrades the schema by itself. A database whose schema is NEWER than this build knows is refused with a clear error
 * (upgrade baton), never written to. The key check (a value sealed with the store key) refuses a wrong key before
 * anything is read, written or sent; and since `baton store rotate-key` can change the store key under processes that
 * checked it when they started, every write of a sealed record and every claim about to be presented is fenced on it
 * ({@link whileStoreKeyIs}).
 */
import { InvalidInput, Retryable, StoreFailure } from "@baton/core";
import type pg from "pg";
import { MIGRATIONS, SCHEMA_VERSION } from "./migrations.ts";
import { open, type StoreKey, seal } from "./sealing.ts";
import { ConnectionLost, type Session } from "./session.ts";

export { MIGRATIONS, SCHEMA_VERSION } from "./migrations.ts";

/** The advisory-lock key space of migrations (a transaction lock: held until the migrating transaction ends). */
const MIGRATION_LOCK = 0x6261_7430; // "bat0"

/** The schema version of the database (0: no baton schema yet). */
export const schemaVersion = async (client: pg.Client): Promise<number> => {
  const found = await client.query<{ present: boolean }>(
    "SELECT to_regclass('baton.migrations') IS NOT NULL AS present",
  );
  if (found.rows[0]?.present !== true) return 0;
  const rows = await client.query<{ version: number | null }>("SELECT max(version) AS version FROM baton.migrations");
  return rows.rows[0]?.version ?? 0;
};

/** A database at a schema newer than this build: nothing is read or written. */
export const newerSchema = (where: string, found: number) =>
  new InvalidInput({
    reason: "config",
    message:
      `the baton store at ${where} has schema version ${found}, newer than this baton knows (${SCHEMA_VERSION}); ` +
      "upgrade baton on this machine (nothing was read or written)",
  });

/**
 * Applies the migrations the database lacks, up to `target` (default: all); returns the versions before and after.
 * Refuses a newer schema.
 */
export const migrate = async (
  client: pg.Client,
  where: string,
  target = SCHEMA_VERSION,
): Promise<{ readonly from: number; readonly to: number }> => {
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    const from = await schemaVersion(client);
    if (from > SCHEMA_VERSION) throw newerSchema(where, from);
    for (const migration of MIGRATIONS) {
      if (migration.version <= from || migration.version > target) continue;
      await client.query(migration.sql);
      await client.query("INSERT INTO baton.migrations (version, description) VALUES ($1, $2)", [
        migration.version,
        migration.description,
      ]);
    }
    await client.query("COMMIT");
    return { from, to: Math.max(from, target) };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
};

export const KEY_CHECK_AAD = "baton:key-check:v1";
export const KEY_CHECK_TEXT = "baton store key check";

/**
 * A condition true only while the store's key is the one whose id is the parameter `param`: a statement that writes
 * a record sealed with a key, or marks a claim presenting, adds it, so a process still holding the key the store was
 * rotated away from writes and sends nothing. (A rotation locks the tables it re-seals; a statement waiting on that
 * lock takes its snapshot after it, so it sees the new key.)
 */
export const whileStoreKeyIs = (param: string): string =>
  `EXISTS (SELECT 1 FROM baton.key_check WHERE key_id = ${param})`;

/**
 * What a record sealed with another key than the one a process checked at its start means: writes are fenced on the
 * store's key, so the store was rotated since.
 */
export const ROTATED_SINCE =
  "the store's key was rotated after this process started (baton store rotate-key): restart it with the store's key";

/**
 * The failure of a process whose key the store was rotated away from after it started (a write or a claim refused by
 * {@link whileStoreKeyIs}): nothing was written or sent; it must be restarted with the store's new key.
 */
const rotatedAway = (where: string, ours: string, now: string | undefined): StoreFailure =>
  new StoreFailure({
    reason: "permission",
    message:
      `the key of the baton store at ${where} was rotated to key ${now ?? "(none)"} after this process started with ` +
      `key ${ours}; nothing was written or sent: restart it with the store's key (BATON_STORE_KEY or BATON_STORE_KEY_FILE)`,
  });

/**
 * After a statement fenced by {@link whileStoreKeyIs} changed nothing: fails with {@link rotatedAway} when the store's
 * key is no longer `ours`, so the caller goes on to its own reasons (a conflict, a lost claim) only when it still is.
 */
export const refuseIfRotated = async (client: pg.Client, where: string, ours: string): Promise<void> => {
  const now = (await client.query<{ key_id: string }>("SELECT key_id FROM baton.key_check")).rows[0]?.key_id;
  if (now !== ours) throw rotatedAway(where, ours, now);
};

/** The key check: sealed with the first key used on the store; a different key is refused, naming both. */
export const checkKey = async (client: pg.Client, where: string, key: StoreKey): Promise<void> => {
  const found = await client.query<{ key_id: string; sealed: Buffer }>("SELECT key_id, sealed FROM baton.key_check");
  const row = found.rows[0];
  if (row === undefined) {
    await client.query("INSERT INTO baton.key_check (key_id, sealed) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", [
      key.id,
      seal(key, KEY_CHECK_AAD, Buffer.from(KEY_CHECK_TEXT, "utf8")),
    ]);
    return checkKey(client, where, key);
  }
  if (row.key_id !== key.id) {
    throw new InvalidInput({
      reason: "passphrase",
      message:
        `the store key given (key ${key.id}) is not the key of the baton store at ${where} (key ${row.key_id}); ` +
        "set BATON_STORE_KEY or BATON_STORE_KEY_FILE to that store's key (nothing was read, written or sent)",
    });
  }
  if (open(key, KEY_CHECK_AAD, row.sealed)?.toString("utf8") !== KEY_CHECK_TEXT) {
    throw new InvalidInput({
      reason: "passphrase",
      message: `the key check of the baton store at ${where} does not open with key ${key.id}: it was altered`,
    });
  }
};

/** SQLSTATEs that mean "this configuration cannot work": wrong credentials, no such database, no permission. */
const CONFIG_SQLSTATE = /^(28|3D000|42501)/;

/** A failure of the readiness check as a host sees it: invalid configuration (exit 2) or retryable (exit 4). */
export const readinessError = (where: string, error: unknown): InvalidInput | Retryable => {
  if (error instanceof InvalidInput || error instanceof Retryable) return error;
  const code =
    typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
      ? error.code
      : undefined;
  const cause = error instanceof Error ? error.message : String(error);
  if (code !== undefined && CONFIG_SQLSTATE.test(code)) {
    return new InvalidInput({ reason: "config", message: `the baton store at ${where} refused: ${cause}` });
  }
  if (error instanceof ConnectionLost) {
    return new Retryable({ account: where, reason: "store-unavailable", message: cause });
  }
  return new Retryable({
    account: where,
    reason: "store-unavailable",
    message: `the baton store at ${where} could not be prepared: ${cause}`,
  });
};

/** Connects, migrates when needed and checks the key: once per session (again after a failure). */
export const ensureReady = (session: Session, key: StoreKey): Promise<void> =>
  session.once(`ready:${key.id}`, () =>
    session.retrying(async (client) => {
      const version = await schemaVersion(client);
      if (version > SCHEMA_VERSION) throw newerSchema(session.where, version);
      if (version < SCHEMA_VERSION) await migrate(client, session.where);
      await checkKey(client, session.where, key);
    }),
  );
