/**
 * The PostgreSQL event store: each account's stream in `baton.events`, one row per event keyed by (provider, account,
 * seq), the event's encoded record as `jsonb` (secret-free by construction: fingerprints only).
 *
 * - `append` numbers the events after the highest stored `seq` inside one transaction that first takes a transaction
 *   advisory lock of the account's stream, so two processes appending at once never interleave or repeat numbers, and
 *   a reader sees a batch whole or not at all (I7: the database's transactions do what the file log's checksums and
 *   torn-tail repair do). The secret store's `writeRecorded` appends through {@link appendInTransaction} inside its
 *   own compare-and-set transaction. An append whose COMMIT answer was lost is settled by looking for its records
 *   after the seq it started from.
 * - `read` and `fold` skip, with a warning, a record written by a newer baton (a higher event schema version) or one
 *   that does not decode; nothing is ever deleted from a stream.
 * - `fold` resumes from a checkpoint in `baton.fold_checkpoints` (the fold of a prefix, core fold-checkpoint.ts),
 *   valid because rows are never changed once written; a refresh writes a new one when it folded at least
 *   {@link CHECKPOINT_AFTER} events past the last.
 * - Diagnostic notes go to `baton.notes` with `synchronous_commit` off for that transaction: best effort, never
 *   waiting for the disk, errors ignored.
 */
import {
  type AccountEvent,
  type AccountRef,
  accountKey,
  type DiagnosticNote,
  decodeAccountEvent,
  decodeDiagnosticNote,
  EVENT_SCHEMA_VERSION,
  EventStore,
  type EventStoreShape,
  encodeAccountEvent,
  type FoldPurpose,
  type NewAccountEvent,
  persistFold,
  restoreFold,
  resumeFold,
  type StoreFailure,
  type StreamFold,
} from "@baton/core";
import { Effect, Exit, Layer } from "effect";
import type pg from "pg";
import { EVENT_APPEND_SPACE, PostgresStore, type PostgresStoreShape } from "./store.ts";

/** A refresh writes a new checkpoint once it folded this many events past the previous one. */
export const CHECKPOINT_AFTER = 16;

/** Appends `events` to the account's stream inside the caller's open transaction; returns them as stored. */
export const appendInTransaction = async (
  client: pg.Client,
  account: AccountRef,
  events: ReadonlyArray<NewAccountEvent>,
): Promise<ReadonlyArray<AccountEvent>> => {
  await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [EVENT_APPEND_SPACE, accountKey(account)]);
  const last = await client.query<{ seq: number | null }>(
    "SELECT max(seq) AS seq FROM baton.events WHERE provider = $1 AND account = $2",
    [account.provider, account.account],
  );
  const from = last.rows[0]?.seq ?? 0;
  const stored = events.map((event, i) => ({ ...event, seq: from + i + 1 }) as AccountEvent);
  await client.query(
    "INSERT INTO baton.events (provider, account, seq, record) " +
      "SELECT $1, $2, e.seq, e.record FROM jsonb_to_recordset($3::jsonb) AS e(seq bigint, record jsonb)",
    [
      account.provider,
      account.account,
      JSON.stringify(stored.map((event) => ({ seq: event.seq, record: encodeAccountEvent(event) }))),
    ],
  );
  return stored;
};

/** What a stored record is: an event, one of a newer baton, or undecodable. */
const judgeRecord = (record: unknown) => {
  const version =
    typeof record === "object" && record !== null && "v" in record && typeof record.v === "number" ? record.v : 1;
  if (version > EVENT_SCHEMA_VERSION) return { kind: "future", version } as const;
  const decoded = decodeAccountEvent(record);
  return Exit.isSuccess(decoded) ? ({ kind: "event", event: decoded.value } as const) : ({ kind: "invalid" } as const);
};

export const make = (store: PostgresStoreShape): EventStoreShape => {
  const where = (account: AccountRef) => `the event stream of ${accountKey(account)} in ${store.where}`;

  /** Decodes rows, warning once about what was skipped. */
  const decodeRows = (account: AccountRef, rows: ReadonlyArray<{ readonly record: unknown }>) =>
    Effect.gen(function* () {
      const events: Array<AccountEvent> = [];
      let future = 0;
      let newest = 0;
      let invalid = 0;
      for (const row of rows) {
        const judged = judgeRecord(row.record);
        if (judged.kind === "event") events.push(judged.event);
        else if (judged.kind === "future") {
          future += 1;
          newest = Math.max(newest, judged.version);
        } else invalid += 1;
      }
      if (future > 0) {
        yield* Effect.logWarning(
          `${where(account)}: ${future} record(s) written by a newer baton (event schema version ${newest}; this ` +
            `build reads version ${EVENT_SCHEMA_VERSION}) are skipped`,
        );
      }
      if (invalid > 0) yield* Effect.logWarning(`${where(account)}: skipping ${invalid} record(s) that do not decode`);
      return events;
    });

  const append = (
    account: AccountRef,
    events: ReadonlyArray<NewAccountEvent>,
  ): Effect.Effect<ReadonlyArray<AccountEvent>, StoreFailure> =>
    Effect.gen(function* () {
      if (events.length === 0) return [];
      // A malformed event is a bug in the caller, not a storage failure.
      const encoded = yield* Effect.try({
        try: () => events.map((event) => encodeAccountEvent({ ...event, seq: 1 } as AccountEvent)),
        catch: (error) => error,
      }).pipe(Effect.orDie);
      let startedAfter: number | undefined;
      return yield* store.query("append to the event stream", async (client) => {
        if (startedAfter !== undefined) {
          // A COMMIT whose answer was lost: our records, right after where we started, mean it went through.
          const found = await client.query<{ record: AccountEvent }>(
            "SELECT record FROM baton.events WHERE provider = $1 AND account = $2 AND seq > $3 ORDER BY seq LIMIT $4",
            [account.provider, account.account, startedAfter, events.length],
          );
          const same =
            found.rows.length === events.length &&
            found.rows.every(
              (row, i) => JSON.stringify(sortKeys({ ...row.record, seq: 1 })) === JSON.stringify(sortKeys(encoded[i])),
            );
          if (same) return found.rows.map((row) => row.record);
        }
        startedAfter = undefined;
        await client.query("BEGIN");
        try {
          const stored = await appendInTransaction(client, account, events);
          startedAfter = (stored[0]?.seq ?? 1) - 1;
          await client.query("COMMIT");
          return stored;
        } catch (error) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw error;
        }
      });
    });

  const read = (account: AccountRef): Effect.Effect<ReadonlyArray<AccountEvent>, StoreFailure> =>
    store
      .query("read the event stream", (client) =>
        client
          .query<{ record: unknown }>(
            "SELECT record FROM baton.events WHERE provider = $1 AND account = $2 ORDER BY seq",
            [account.provider, account.account],
          )
          .then((found) => found.rows),
      )
      .pipe(Effect.flatMap((rows) => decodeRows(account, rows)));

  const fold = (
    account: AccountRef,
    thresholdMs: number,
    purpose: FoldPurpose,
  ): Effect.Effect<StreamFold, StoreFailure> =>
    Effect.gen(function* () {
      const { checkpoint, rows } = yield* store.query("fold the event stream", async (client) => {
        const saved = await client.query<{ checkpoint: unknown }>(
          "SELECT checkpoint FROM baton.fold_checkpoints WHERE provider = $1 AND account = $2",
          [account.provider, account.account],
        );
        const restored = restoreFold(saved.rows[0]?.checkpoint, thresholdMs);
        const after = restored?.snapshot.context.lastSeq ?? 0;
        const found = await client.query<{ record: unknown }>(
          "SELECT record FROM baton.events WHERE provider = $1 AND account = $2 AND seq > $3 ORDER BY seq",
          [account.provider, account.account, after],
        );
        return { checkpoint: restored, rows: found.rows };
      });
      const events = yield* decodeRows(account, rows);
      const folded = resumeFold(checkpoint, events, thresholdMs);
      if (purpose === "refresh" && events.length >= CHECKPOINT_AFTER) {
        yield* store
          .query(
            "write a fold checkpoint",
            (client) =>
              client.query(
                "INSERT INTO baton.fold_checkpoints (provider, account, checkpoint) VALUES ($1, $2, $3) " +
                  "ON CONFLICT (provider, account) DO UPDATE SET checkpoint = EXCLUDED.checkpoint",
                [account.provider, account.account, JSON.stringify(persistFold(folded))],
              ),
            { retry: false },
          )
          .pipe(Effect.ignore);
      }
      return folded;
    });

  const accounts = (): Effect.Effect<ReadonlyArray<AccountRef>, StoreFailure> =>
    store.query("list the event streams", (client) =>
      client
        .query<AccountRef>("SELECT DISTINCT provider, account FROM baton.events ORDER BY provider, account")
        .then((found) => found.rows.map((row) => ({ provider: row.provider, account: row.account }))),
    );

  const note = (account: AccountRef, diagnostic: DiagnosticNote): Effect.Effect<void> =>
    store
      .query(
        "write a note",
        async (client) => {
          await client.query("BEGIN");
          try {
            await client.query("SET LOCAL synchronous_commit = off");
            await client.query("INSERT INTO baton.notes (provider, account, note) VALUES ($1, $2, $3)", [
              account.provider,
              account.account,
              JSON.stringify(diagnostic),
            ]);
            await client.query("COMMIT");
          } catch (error) {
            await client.query("ROLLBACK").catch(() => undefined);
            throw error;
          }
        },
        { retry: false },
      )
      .pipe(Effect.ignore);

  const notes = (account: AccountRef): Effect.Effect<ReadonlyArray<DiagnosticNote>, StoreFailure> =>
    store.query("read the notes", async (client) => {
      const found = await client.query<{ note: unknown }>(
        "SELECT note FROM baton.notes WHERE provider = $1 AND account = $2 ORDER BY id",
        [account.provider, account.account],
      );
      return found.rows.flatMap((row) => {
        const decoded = decodeDiagnosticNote(row.note);
        return Exit.isSuccess(decoded) ? [decoded.value] : [];
      });
    });

  return { append, read, fold, accounts, note, notes };
};

/** `value` with its object keys sorted (jsonb keeps its own order), for comparing a record read back. */
const sortKeys = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => [k, sortKeys(v)]),
  );
};

/** The PostgreSQL event store as a layer. */
export const layer: Layer.Layer<EventStore, never, PostgresStore> = Layer.effect(
  EventStore,
  Effect.gen(function* () {
    return EventStore.of(make(yield* PostgresStore));
  }),
);
