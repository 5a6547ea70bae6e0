/**
 * The PostgreSQL event store: each account's stream in `baton.events`, one row per event keyed by (provider, account,
 * seq), the event's encoded record as `jsonb` (secret-free by construction: fingerprints only).
 *
 * - `append` numbers the events after the highest stored `seq` inside one transaction that first takes a transaction
 *   advisory lock of the account's stream, so two processes appending at once never interleave or repeat numbers, and
 *   a reader sees a batch whole or not at all (I7: the database's transactions do what the file log's checksums and
 *   torn-tail repair do). BEGIN, the lock, the numbered INSERT and COMMIT go in one round trip. The secret store's
 *   `writeRecorded` appends with the same statements inside its own compare-and-set transaction. An append whose
 *   COMMIT answer was lost is settled by looking for its records (same time, host, pid and content) at the stream's
 *   end.
 * - `read` and `fold` skip, with a warning, a record written by a newer baton (a higher event schema version) or one
 *   that does not decode; nothing is ever deleted from a stream.
 * - `fold` resumes from a checkpoint in `baton.fold_checkpoints` (the fold of a prefix, core fold-checkpoint.ts),
 *   valid because rows are never changed once written; a refresh writes a new one when it folded at least
 *   {@link CHECKPOINT_AFTER} events past the last.
 * - Diagnostic notes go to `baton.notes` in one statement with `synchronous_commit` off for it, queued on the
 *   connection without waiting for the answer: best effort, never delaying the caller, errors ignored.
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
import { type Statement, transactionInOneTrip } from "./session.ts";
import { EVENT_APPEND_SPACE, PostgresStore, type PostgresStoreShape } from "./store.ts";

/** A refresh writes a new checkpoint once it folded this many events past the previous one. */
export const CHECKPOINT_AFTER = 16;

/** The transaction lock that serializes the appends to an account's stream. */
export const lockStream = (account: AccountRef): Statement => [
  "SELECT pg_advisory_xact_lock($1, hashtext($2))",
  [EVENT_APPEND_SPACE, accountKey(account)],
];

/**
 * SQL that inserts the events of the JSON array parameter `$<events>` into the stream of (`$1`, `$2`), numbered after
 * its last seq, each record carrying its seq; `from` adds tables to the SELECT (a CTE that must have a row for
 * anything to be inserted). RETURNING seq. Run it after {@link lockStream}, in the same transaction.
 */
export const insertEvents = (events: number, from = ""): string =>
  "INSERT INTO baton.events (provider, account, seq, record) " +
  "SELECT $1, $2, last.seq + e.n, e.record || jsonb_build_object('seq', last.seq + e.n) " +
  "FROM (SELECT COALESCE(max(seq), 0) AS seq FROM baton.events WHERE provider = $1 AND account = $2) AS last, " +
  `jsonb_array_elements($${events}::jsonb) WITH ORDINALITY AS e(record, n)${from} RETURNING seq`;

/** The JSON array parameter of {@link insertEvents}: the events encoded (their seq is set by the insert). */
export const encodeEvents = (events: ReadonlyArray<NewAccountEvent>): string =>
  JSON.stringify(events.map((event) => encodeAccountEvent({ ...event, seq: 1 } as AccountEvent)));

/** `events` as stored, from the seqs an {@link insertEvents} returned. */
export const storedEvents = (
  events: ReadonlyArray<NewAccountEvent>,
  result: pg.QueryResult | undefined,
): ReadonlyArray<AccountEvent> => {
  const first = Math.min(...(result?.rows ?? []).map((row: { seq: number }) => row.seq));
  return events.map((event, i) => ({ ...event, seq: first + i }) as AccountEvent);
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
      let attempted = false;
      return yield* store.query("append to the event stream", async (client) => {
        if (attempted) {
          // A COMMIT whose answer was lost with the connection: our records (same time, host, pid and content) at the
          // end of the stream mean it went through.
          const found = await client.query<{ record: AccountEvent }>(
            "SELECT record FROM baton.events WHERE provider = $1 AND account = $2 ORDER BY seq DESC LIMIT $3",
            [account.provider, account.account, events.length],
          );
          const last = found.rows.map((row) => row.record).reverse();
          const same =
            last.length === events.length &&
            last.every(
              (record, i) => JSON.stringify(sortKeys({ ...record, seq: 1 })) === JSON.stringify(sortKeys(encoded[i])),
            );
          if (same) return last;
        }
        attempted = true;
        // One round trip: BEGIN, the stream's lock, the numbered insert, COMMIT.
        const [, inserted] = await transactionInOneTrip(client, [
          lockStream(account),
          [insertEvents(3), [account.provider, account.account, encodeEvents(events)]],
        ]);
        return storedEvents(events, inserted);
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
        // One statement (one snapshot, one round trip): the checkpoint, and the events after the prefix it covers.
        const found = await client.query<{ checkpoint: unknown; records: ReadonlyArray<unknown> | null }>(
          "WITH saved AS (SELECT checkpoint FROM baton.fold_checkpoints WHERE provider = $1 AND account = $2) " +
            "SELECT (SELECT checkpoint FROM saved) AS checkpoint, (SELECT jsonb_agg(record ORDER BY seq) " +
            "FROM baton.events WHERE provider = $1 AND account = $2 AND seq > COALESCE((SELECT " +
            "(checkpoint->'context'->>'lastSeq')::bigint FROM saved), 0)) AS records",
          [account.provider, account.account],
        );
        const saved = found.rows[0]?.checkpoint ?? undefined;
        const after = (found.rows[0]?.records ?? []).map((record) => ({ record }));
        const restored = restoreFold(saved, thresholdMs);
        if (restored !== undefined || saved === undefined) return { checkpoint: restored, rows: after };
        // A checkpoint this build cannot use (another fold format or threshold): the whole stream.
        const all = await client.query<{ record: unknown }>(
          "SELECT record FROM baton.events WHERE provider = $1 AND account = $2 ORDER BY seq",
          [account.provider, account.account],
        );
        return { checkpoint: undefined, rows: all.rows };
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

  // Queued on the connection and not waited for: the caller (a flight ending) hands its token over at once; the
  // session finishes its queue before it closes. One statement, its commit not waiting for the disk.
  const note = (account: AccountRef, diagnostic: DiagnosticNote): Effect.Effect<void> =>
    Effect.sync(() => {
      store.session
        .run((client) =>
          client.query(
            "WITH async AS (SELECT set_config('synchronous_commit', 'off', true)) " +
              "INSERT INTO baton.notes (provider, account, note) SELECT $1, $2, $3 FROM async",
            [account.provider, account.account, JSON.stringify(diagnostic)],
          ),
        )
        .catch(() => undefined);
    });

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
