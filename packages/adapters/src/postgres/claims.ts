/**
 * The PostgreSQL claim store: the right to present generation *g* of an account (I1) is a `baton.claims` row keyed by
 * (provider, account, generation, attempt), which only one transaction can create (the primary key), committed before
 * the request is sent.
 *
 * `acquire` decides in ONE transaction, serialized per account and generation by a transaction advisory lock: it lists
 * the claims on *g* with their claimants' liveness as the DATABASE sees it (presence.ts: the claimant's connection
 * holds the claim's presence lock while its scope is open — in this process or on any other machine), judges them with
 * the core's `judgeClaims`, and inserts the next attempt only when none is in flight or in doubt. Liveness:
 *
 * - presence lock held → alive (in flight);
 * - released, never marked presenting → gone: the next attempt is free. A live claimant whose connection merely
 *   dropped cannot present later: `markPresenting` is fenced (below);
 * - released and presenting → alive for {@link PRESENCE_GRACE_MS} after a judge first found it released (the
 *   claimant may be reconnecting after a server restart; both instants on the database's clock), then gone: in doubt
 *   (I9), named by host and pid.
 *
 * `markPresenting` is fenced: in a transaction under the same lock, it marks the attempt presenting only while no
 * later attempt exists on *g* and the claim was not released — so a claimant judged gone can never send after another
 * process took the next attempt — and only while the store's key is still the one this process has (a key rotation,
 * key-rotation.ts, leaves a process with the old key nothing to send that it could not store). A transaction whose
 * COMMIT answer was lost is settled on the new connection: an acquired claim is recognized by its presence key, the
 * markers are idempotent updates.
 *
 * Nothing here reads a clock of another machine: `claimant.at` (the claimant's clock) is shown to people only.
 */
import {
  type AccountRef,
  type Acquisition,
  accountKey,
  type ClaimRecord,
  type ClaimRequest,
  ClaimStore,
  type ClaimStoreShape,
  judgeClaims,
  type Liveness,
  StoreFailure,
} from "@baton/core";
import { Effect, Layer, type Scope } from "effect";
import type pg from "pg";
import { PRESENCE_GRACE_MS, presenceHeld, presenceOf } from "./presence.ts";
import { refuseIfRotated, whileStoreKeyIs } from "./schema.ts";
import { pipelined, type Statement, transactionInOneTrip } from "./session.ts";
import { CHANGES_CHANNEL, CLAIM_DECISION_SPACE, PostgresStore, type PostgresStoreShape } from "./store.ts";

export { PRESENCE_GRACE_MS } from "./presence.ts";

interface ClaimRow {
  readonly generation: number;
  readonly attempt: number;
  readonly host: string;
  readonly pid: number;
  readonly claimed_at: number;
  readonly refresh_fp: string | null;
  readonly presenting: boolean;
  readonly rotated: boolean;
  readonly released: string | null;
  readonly presence: number;
  readonly held: boolean;
  readonly lost_long: boolean;
}

const toRecord = (row: ClaimRow): ClaimRecord => ({
  generation: row.generation,
  attempt: row.attempt,
  claimant: { host: row.host, pid: row.pid, at: row.claimed_at },
  presenting: row.presenting || row.rotated,
  released: row.released ?? undefined,
  refreshFp: row.refresh_fp ?? undefined,
  rotated: row.rotated,
});

/** The database's judgement of a claimant (see the module comment). */
const livenessOf = (row: ClaimRow): Liveness =>
  row.held ? "alive" : !(row.presenting || row.rotated) ? "dead" : row.lost_long ? "dead" : "alive";

const SELECT_CLAIMS =
  "SELECT generation, attempt, host, pid, claimed_at, refresh_fp, presenting, rotated, released, presence, " +
  `${presenceHeld("presence")} AS held, ` +
  "(presence_lost_at IS NOT NULL AND presence_lost_at <= now() - make_interval(secs => $4::float8 / 1000)) AS lost_long " +
  "FROM baton.claims WHERE provider = $1 AND account = $2 AND generation = $3 ORDER BY attempt";

/** The transaction lock that serializes every decision on (account, generation). */
const lockDecision = (account: AccountRef, generation: number): Statement => [
  "SELECT pg_advisory_xact_lock($1, hashtext($2))",
  [CLAIM_DECISION_SPACE, `${accountKey(account)}#${generation}`],
];

const selectClaims = (account: AccountRef, generation: number): Statement => [
  SELECT_CLAIMS,
  [account.provider, account.account, generation, PRESENCE_GRACE_MS],
];

const insertClaim = (
  account: AccountRef,
  generation: number,
  attempt: number,
  request: ClaimRequest,
  presence: number,
): Statement => [
  "INSERT INTO baton.claims (provider, account, generation, attempt, host, pid, claimed_at, refresh_fp, presence) " +
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
  [
    account.provider,
    account.account,
    generation,
    attempt,
    request.claimant.host,
    request.claimant.pid,
    request.claimant.at,
    request.refreshFp ?? null,
    presence,
  ],
];

/** The acquisition the claims call for (the core's judgement), and the attempts whose presence was found lost. */
const judge = (rows: ReadonlyArray<ClaimRow>, at: number) => {
  const judgement = judgeClaims(
    rows.map((row) => ({ record: toRecord(row), liveness: livenessOf(row) })),
    at,
    0,
  );
  const acquisition: Acquisition =
    judgement.kind === "in-flight"
      ? { _tag: "InFlight", claim: judgement.claim }
      : judgement.kind === "in-doubt"
        ? {
            _tag: "InDoubt",
            claim: judgement.claim,
            presented: judgement.presented,
            nextAttempt: judgement.nextAttempt,
          }
        : { _tag: "Granted", attempt: judgement.nextAttempt };
  const lost = rows.filter((row) => !row.held && row.released === null && (row.presenting || row.rotated));
  return { acquisition, lost: lost.map((row) => row.attempt) };
};

export const make = (store: PostgresStoreShape): ClaimStoreShape => {
  const presence = presenceOf(store.session);

  /**
   * The decision in one transaction and two round trips: the presence key (when there is none yet), BEGIN, the
   * decision lock and the claims; then the lost presences noted, the next attempt inserted, COMMIT. A try whose
   * COMMIT answer was lost finds its own claim by its presence key.
   */
  const decide = async (
    client: pg.Client,
    account: AccountRef,
    generation: number,
    request: ClaimRequest,
    known: number | undefined,
  ): Promise<{ readonly key: number; readonly acquisition: Acquisition }> => {
    try {
      const [key, [, , listed]] = await Promise.all([
        known === undefined ? presence.open(client) : Promise.resolve(known),
        pipelined(client, [["BEGIN"], lockDecision(account, generation), selectClaims(account, generation)]),
      ]);
      const rows: ReadonlyArray<ClaimRow> = listed?.rows ?? [];
      const own = rows.find((row) => row.presence === key);
      if (own !== undefined) {
        await client.query("COMMIT");
        return { key, acquisition: { _tag: "Granted", attempt: own.attempt } };
      }
      const { acquisition, lost } = judge(rows, request.claimant.at);
      const tail: Array<Statement> = [];
      if (lost.length > 0) {
        tail.push([
          "UPDATE baton.claims SET presence_lost_at = now() WHERE provider = $1 AND account = $2 " +
            "AND generation = $3 AND attempt = ANY($4::int[]) AND presence_lost_at IS NULL",
          [account.provider, account.account, generation, lost],
        ]);
      }
      if (acquisition._tag === "Granted")
        tail.push(insertClaim(account, generation, acquisition.attempt, request, key));
      const done = await pipelined(client, [...tail, ["COMMIT"]]);
      if (acquisition._tag === "Granted" && done.at(-2)?.rowCount !== 1) {
        throw new Error(`attempt ${acquisition.attempt} of generation ${generation} exists already`);
      }
      return { key, acquisition };
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    }
  };

  const acquire = (
    account: AccountRef,
    generation: number,
    request: ClaimRequest,
  ): Effect.Effect<Acquisition, StoreFailure, Scope.Scope> =>
    Effect.gen(function* () {
      let key: number | undefined;
      const close = Effect.promise(() => (key === undefined ? Promise.resolve() : presence.close(key)));
      yield* Effect.addFinalizer(() => close);
      const decided = yield* store.query("decide a claim", async (client) => {
        const outcome = await decide(client, account, generation, request, key);
        key = outcome.key;
        return outcome.acquisition;
      });
      // Nothing granted: nothing to keep alive.
      if (decided._tag !== "Granted") yield* close;
      return decided;
    });

  const retry = (
    account: AccountRef,
    generation: number,
    attempt: number,
    request: ClaimRequest,
  ): Effect.Effect<boolean, StoreFailure, Scope.Scope> =>
    Effect.gen(function* () {
      const key = yield* store.query("open a claim", (client) => presence.open(client));
      const close = Effect.promise(() => presence.close(key));
      yield* Effect.addFinalizer(() => close);
      const created = yield* store.query("create a claim", async (client) => {
        const [inserted, mine] = await pipelined(client, [
          insertClaim(account, generation, attempt, request, key),
          // An earlier try whose answer was lost may have created it.
          [
            "SELECT 1 FROM baton.claims WHERE provider = $1 AND account = $2 AND generation = $3 AND attempt = $4 " +
              "AND presence = $5",
            [account.provider, account.account, generation, attempt, key],
          ],
        ]);
        return inserted?.rowCount === 1 || mine?.rowCount === 1;
      });
      if (!created) yield* close;
      return created;
    });

  const markPresenting = (account: AccountRef, generation: number, attempt: number) =>
    store
      .query("mark a claim presenting", async (client) => {
        const ours = store.key?.id ?? "";
        const [, marked] = await transactionInOneTrip(client, [
          lockDecision(account, generation),
          [
            "UPDATE baton.claims SET presenting = true WHERE provider = $1 AND account = $2 AND generation = $3 " +
              "AND attempt = $4 AND released IS NULL AND NOT EXISTS (SELECT 1 FROM baton.claims later " +
              "WHERE later.provider = $1 AND later.account = $2 AND later.generation = $3 AND later.attempt > $4) " +
              `AND ${whileStoreKeyIs("$5")}`,
            [account.provider, account.account, generation, attempt, ours],
          ],
        ]);
        if (marked?.rowCount === 1) return true;
        // Not ours to present: the store's key was rotated under this process, or another process took the attempt.
        await refuseIfRotated(client, store.where, ours);
        return false;
      })
      .pipe(
        Effect.flatMap((marked) =>
          marked
            ? Effect.void
            : Effect.fail(
                new StoreFailure({
                  reason: "conflict",
                  message:
                    `the claim on ${accountKey(account)} generation ${generation} (attempt ${attempt}) was given up: ` +
                    "this process lost its connection to the store and another process took the next attempt; " +
                    "nothing was sent",
                }),
              ),
        ),
      );

  /** An update of one claim and the notification of its account, in one round trip. */
  const update = (what: string, statement: Statement, account: AccountRef) =>
    store.query(what, async (client) => {
      await pipelined(client, [statement, ["SELECT pg_notify($1, $2)", [CHANGES_CHANNEL, accountKey(account)]]]);
    });

  const markRotated = (account: AccountRef, generation: number, attempt: number) =>
    update(
      "mark a claim rotated",
      [
        "UPDATE baton.claims SET rotated = true, presenting = true " +
          "WHERE provider = $1 AND account = $2 AND generation = $3 AND attempt = $4",
        [account.provider, account.account, generation, attempt],
      ],
      account,
    );

  const release = (account: AccountRef, generation: number, attempt: number, reason: string) =>
    update(
      "release a claim",
      [
        "UPDATE baton.claims SET released = $5 " +
          "WHERE provider = $1 AND account = $2 AND generation = $3 AND attempt = $4 AND released IS NULL",
        [account.provider, account.account, generation, attempt, reason],
      ],
      account,
    );

  const list = (account: AccountRef, generation: number) =>
    store.query("list the claims", async (client) => {
      const [text, values = []] = selectClaims(account, generation);
      return (await client.query<ClaimRow>(text, [...values])).rows.map(toRecord);
    });

  const highest = (account: AccountRef) =>
    store.query("find the highest claim", async (client) => {
      const found = await client.query<{ generation: number | null }>(
        "SELECT max(generation) AS generation FROM baton.claims WHERE provider = $1 AND account = $2",
        [account.provider, account.account],
      );
      return found.rows[0]?.generation ?? 0;
    });

  // Housekeeping: its commit does not wait for the disk (claims a crash forgets to prune, the next rotation prunes).
  const prune = (account: AccountRef, generation: number) =>
    store.query("prune the claims", async (client) => {
      const removed = await client.query(
        "WITH async AS (SELECT set_config('synchronous_commit', 'off', true) AS setting) " +
          "DELETE FROM baton.claims WHERE provider = $1 AND account = $2 AND generation < $3 " +
          "AND EXISTS (SELECT 1 FROM async)",
        [account.provider, account.account, generation],
      );
      return removed.rowCount ?? 0;
    });

  return { acquire, retry, markPresenting, markRotated, release, list, highest, prune };
};

/** The PostgreSQL claim store as a layer. */
export const layer: Layer.Layer<ClaimStore, never, PostgresStore> = Layer.effect(
  ClaimStore,
  Effect.gen(function* () {
    return ClaimStore.of(make(yield* PostgresStore));
  }),
);
