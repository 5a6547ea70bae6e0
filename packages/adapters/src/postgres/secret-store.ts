/**
 * The PostgreSQL secret store (kind "postgres"): one `baton.secrets` row per account holding its current generation —
 * the generation in the clear, the credentials sealed with the store key (AES-256-GCM, the key id beside them, the
 * account and generation as additional authenticated data, store-key.ts), so a dump of the database or its server
 * log never holds a token.
 *
 * - Writes are compare-and-set on the generation in one statement (I2): `INSERT … ON CONFLICT DO NOTHING` when nothing
 *   is expected, `UPDATE … WHERE generation = expected` otherwise; no row affected is a `GenerationConflict` naming
 *   the generation found. Durable on return: the COMMIT's answer means the server has flushed it (I3).
 * - `writeRecorded` does the same and appends the generation's `credentials.stored` event in the SAME transaction
 *   (events.ts), and notifies waiters (LISTEN/NOTIFY, delivered at commit) — one commit for the secret, its event and
 *   the wake-up.
 * - A write whose COMMIT answer was lost with the connection is settled by reading the row back: our own sealed bytes
 *   there mean it committed (random nonces make them unique); the expected generation still there means it did not,
 *   and the write is tried again on a new connection; anything else is a conflict.
 * - A row that does not open with the store key (altered) or does not decode is moved to `baton.quarantine` with its
 *   bytes, and reported as `StoreFailure` `corrupt` (I4: moved aside, never blanked). A row sealed with another key
 *   id is reported naming both keys, and left in place.
 */
import {
  type AccountEvent,
  type AccountRef,
  accountKey,
  type Credentials,
  GenerationConflict,
  type NewAccountEvent,
  parseCredentialsRecord,
  SecretStore,
  type SecretStoreShape,
  StoreFailure,
} from "@baton/core";
import { Effect, Layer } from "effect";
import type pg from "pg";
import { encodeEvents, insertEvents, lockStream, storedEvents } from "./events.ts";
import { ROTATED_SINCE, refuseIfRotated, whileStoreKeyIs } from "./schema.ts";
import { secretAad as aadOf, open, type StoreKey, seal } from "./sealing.ts";
import { type Statement, transactionInOneTrip } from "./session.ts";
import { CHANGES_CHANNEL, PostgresStore, type PostgresStoreShape } from "./store.ts";

const secretAad = (account: AccountRef, generation: number): string =>
  aadOf(account.provider, account.account, generation);

interface SecretRow {
  readonly generation: number;
  readonly key_id: string;
  readonly sealed: Buffer;
}

/** The credentials of `row`, or what is wrong with it. */
export const openSecret = (
  key: StoreKey,
  account: AccountRef,
  row: SecretRow,
): { readonly ok: Credentials } | { readonly problem: string; readonly otherKey?: true } => {
  if (row.key_id !== key.id) {
    return {
      problem: `is sealed with key ${row.key_id}, not with the store key given (${key.id}); ${ROTATED_SINCE}`,
      otherKey: true,
    };
  }
  const plain = open(key, secretAad(account, row.generation), row.sealed);
  if (plain === undefined) return { problem: "does not open with the store key: it was altered or moved" };
  const parsed = parseCredentialsRecord(plain.toString("utf8"));
  if (!("ok" in parsed)) return { problem: parsed.problem };
  if (parsed.ok.generation !== row.generation || parsed.ok.account !== accountKey(account)) {
    return { problem: "holds credentials of another generation or account" };
  }
  return { ok: parsed.ok };
};

type Outcome =
  | { readonly _tag: "written"; readonly event?: AccountEvent }
  | { readonly _tag: "conflict"; readonly found: number };

export const make = (store: PostgresStoreShape): SecretStoreShape => {
  const sealingKey = (): StoreKey => {
    if (store.key === undefined) throw new StoreFailure({ reason: "permission", message: "no store key is set" });
    return store.key;
  };

  /**
   * The last record opened per account, with its sealed bytes: a follower woken many times reads the row each time
   * but opens and decodes it once (identical bytes, a random nonce per write: the same record).
   */
  const decoded = new Map<string, { readonly sealed: Buffer; readonly credentials: Credentials }>();

  const read = (account: AccountRef): Effect.Effect<Credentials | undefined, StoreFailure> =>
    store.query("read the secret", async (client) => {
      const key = sealingKey();
      const found = await client.query<SecretRow>(
        "SELECT generation, key_id, sealed FROM baton.secrets WHERE provider = $1 AND account = $2",
        [account.provider, account.account],
      );
      const row = found.rows[0];
      if (row === undefined) return undefined;
      const known = decoded.get(accountKey(account));
      if (known !== undefined && row.key_id === key.id && known.sealed.equals(row.sealed)) return known.credentials;
      const outcome = openSecret(key, account, row);
      if ("ok" in outcome) {
        decoded.set(accountKey(account), { sealed: row.sealed, credentials: outcome.ok });
        return outcome.ok;
      }
      const what = `the secret of ${accountKey(account)} (generation ${row.generation}) in ${store.where}`;
      if (outcome.otherKey === true) {
        throw new StoreFailure({ reason: "permission", message: `${what} ${outcome.problem}` });
      }
      const moved = await quarantine(client, account, row, outcome.problem);
      throw new StoreFailure({
        reason: "corrupt",
        message: moved
          ? `${what} ${outcome.problem}; it was moved to baton.quarantine with its bytes intact (run \`baton doctor\`, or log in again)`
          : `${what} changed while it was being read`,
      });
    });

  /**
   * One attempt of the compare-and-set, with the event appended only if it took (one statement: the event insert
   * reads the CAS's CTE), and the notification — BEGIN to COMMIT in one round trip.
   */
  const attempt = async (
    client: pg.Client,
    account: AccountRef,
    next: Credentials,
    expected: number,
    sealed: Buffer,
    keyId: string,
    event: NewAccountEvent | undefined,
  ): Promise<Outcome> => {
    const cas =
      expected === 0
        ? "INSERT INTO baton.secrets (provider, account, generation, key_id, sealed) " +
          `SELECT $1, $2, $3::bigint, $4, $5::bytea WHERE ${whileStoreKeyIs("$4")} ` +
          "ON CONFLICT (provider, account) DO NOTHING RETURNING generation"
        : "UPDATE baton.secrets SET generation = $3, key_id = $4, sealed = $5, updated_at = now() " +
          `WHERE provider = $1 AND account = $2 AND generation = $6 AND $3 > generation AND ${whileStoreKeyIs("$4")} ` +
          "RETURNING generation";
    const values = [
      account.provider,
      account.account,
      next.generation,
      keyId,
      sealed,
      ...(expected === 0 ? [] : [expected]),
    ];
    const statements: Array<Statement> =
      event === undefined
        ? [[cas, values]]
        : [
            lockStream(account),
            [`WITH cas AS (${cas}) ${insertEvents(values.length + 1, ", cas")}`, [...values, encodeEvents([event])]],
          ];
    const results = await transactionInOneTrip(client, [
      ...statements,
      ["SELECT pg_notify($1, $2)", [CHANGES_CHANNEL, accountKey(account)]],
    ]);
    const written = results[statements.length - 1];
    if ((written?.rowCount ?? 0) === 0) {
      await refuseIfRotated(client, store.where, keyId);
      const found = await client.query<{ generation: number }>(
        "SELECT generation FROM baton.secrets WHERE provider = $1 AND account = $2",
        [account.provider, account.account],
      );
      return { _tag: "conflict", found: found.rows[0]?.generation ?? 0 };
    }
    const stored = event === undefined ? undefined : storedEvents([event], written)[0];
    return stored === undefined ? { _tag: "written" } : { _tag: "written", event: stored };
  };

  /** Whether our write (`sealed`) is in the row now: the way to settle a COMMIT whose answer was lost. */
  const landed = (client: pg.Client, account: AccountRef, sealed: Buffer) =>
    client
      .query<{ ours: boolean; generation: number }>(
        "SELECT sealed = $3 AS ours, generation FROM baton.secrets WHERE provider = $1 AND account = $2",
        [account.provider, account.account, sealed],
      )
      .then((found) => found.rows[0]);

  const writeWith = (
    account: AccountRef,
    next: Credentials,
    expected: number,
    event: NewAccountEvent | undefined,
  ): Effect.Effect<Outcome, StoreFailure> =>
    Effect.suspend(() => {
      let sealed: Buffer | undefined;
      let sent = false;
      return store.query("write the secret", async (client) => {
        const key = sealingKey();
        sealed ??= seal(key, secretAad(account, next.generation), Buffer.from(JSON.stringify(next), "utf8"));
        if (sent) {
          // A previous attempt's COMMIT may have gone through: its bytes are unique (a random nonce).
          const now = await landed(client, account, sealed);
          if (now?.ours === true) {
            if (event === undefined) return { _tag: "written" } as const;
            const recorded = await client.query<{ record: AccountEvent }>(
              "SELECT record FROM baton.events WHERE provider = $1 AND account = $2 AND record->>'type' = 'credentials.stored' " +
                "AND (record->>'generation')::bigint = $3 ORDER BY seq DESC LIMIT 1",
              [account.provider, account.account, next.generation],
            );
            const stored = recorded.rows[0]?.record;
            return stored === undefined ? { _tag: "written" } : { _tag: "written", event: stored };
          }
          if ((now?.generation ?? 0) !== expected) return { _tag: "conflict", found: now?.generation ?? 0 };
        }
        sent = true;
        return attempt(client, account, next, expected, sealed, key.id, event);
      });
    });

  const conflictOr =
    (account: AccountRef, expected: number) =>
    (outcome: Outcome): Effect.Effect<Outcome, GenerationConflict> =>
      outcome._tag === "conflict"
        ? Effect.fail(new GenerationConflict({ account: accountKey(account), expected, found: outcome.found }))
        : Effect.succeed(outcome);

  const write = (account: AccountRef, next: Credentials, expected: number) =>
    writeWith(account, next, expected, undefined).pipe(Effect.flatMap(conflictOr(account, expected)), Effect.asVoid);

  const writeRecorded = (account: AccountRef, next: Credentials, expected: number, event: NewAccountEvent) =>
    writeWith(account, next, expected, event).pipe(
      Effect.flatMap(conflictOr(account, expected)),
      Effect.flatMap((outcome) =>
        outcome._tag === "written" && outcome.event !== undefined
          ? Effect.succeed(outcome.event)
          : Effect.fail(
              new StoreFailure({
                reason: "io",
                message: `the secret of ${accountKey(account)} was stored, but its event could not be found again`,
              }),
            ),
      ),
    );

  const remove = (account: AccountRef): Effect.Effect<void, StoreFailure> =>
    store.query("remove the secret", async (client) => {
      await client.query("BEGIN");
      await client.query("DELETE FROM baton.secrets WHERE provider = $1 AND account = $2", [
        account.provider,
        account.account,
      ]);
      await client.query("SELECT pg_notify($1, $2)", [CHANGES_CHANNEL, accountKey(account)]);
      await client.query("COMMIT");
    });

  const list = (): Effect.Effect<ReadonlyArray<AccountRef>, StoreFailure> =>
    store.query("list the accounts", async (client) => {
      const found = await client.query<AccountRef>(
        "SELECT provider, account FROM baton.secrets ORDER BY provider, account",
      );
      return found.rows.map((row) => ({ provider: row.provider, account: row.account }));
    });

  /** The store is ready (connected, migrated, key checked) and this session may write secrets: a rolled-back write. */
  const probe = (account: AccountRef): Effect.Effect<void, StoreFailure> =>
    store.query("check that secrets can be written", async (client) => {
      sealingKey();
      await client.query("BEGIN");
      try {
        await client.query(
          "INSERT INTO baton.secrets (provider, account, generation, key_id, sealed) VALUES ($1, $2, 1, 'probe', '') " +
            "ON CONFLICT (provider, account) DO UPDATE SET updated_at = now()",
          [account.provider, account.account],
        );
      } finally {
        await client.query("ROLLBACK");
      }
    });

  return { kind: "postgres", read, write, writeRecorded, probe, remove, list };
};

/** Moves a secret row that cannot be read to `baton.quarantine` (bytes kept); false when the row changed meanwhile. */
const quarantine = async (client: pg.Client, account: AccountRef, row: SecretRow, problem: string) => {
  await client.query("BEGIN");
  try {
    const moved = await client.query(
      "DELETE FROM baton.secrets WHERE provider = $1 AND account = $2 AND generation = $3 AND sealed = $4",
      [account.provider, account.account, row.generation, row.sealed],
    );
    if (moved.rowCount === 1) {
      await client.query(
        "INSERT INTO baton.quarantine (what, provider, account, problem, content) VALUES ('secret', $1, $2, $3, $4)",
        [account.provider, account.account, `generation ${row.generation} (key ${row.key_id}) ${problem}`, row.sealed],
      );
    }
    await client.query("COMMIT");
    return moved.rowCount === 1;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
};

/** The PostgreSQL secret store as a layer. */
export const layer: Layer.Layer<SecretStore, never, PostgresStore> = Layer.effect(
  SecretStore,
  Effect.gen(function* () {
    return SecretStore.of(make(yield* PostgresStore));
  }),
);
