/**
 * `baton store rotate-key`: re-seals every sealed record of the PostgreSQL store — the key check, the provider
 * registry and every account's secret — from the store's key to a new one, in ONE transaction: the store is never
 * half rotated, and a rotation that fails or is killed leaves it as it was, still under the old key.
 *
 * Why it cannot log anyone out (I1, I2): the transaction locks the tables it re-seals and the claims table (EXCLUSIVE:
 * readers go on, writers wait), and goes ahead only when no claim is open with a live claimant — no refresh is between
 * its claim and its store. A presented claim whose claimant lost its connection counts as live for the same grace as
 * in claims.ts: it may be reconnecting to store its answer. Every later write of a sealed record and every claim about
 * to be presented is fenced on the store's key (schema.ts, `whileStoreKeyIs`): a process still running with the old
 * key (a broker, an embedding host) is stopped before anything is sent — by its read of a record sealed with the new
 * key, or by its claim — so it never holds a rotated token it could not store. It must be restarted with the new key.
 *
 * Nothing is re-issued: every secret keeps its generation, tokens and AAD (account and generation), only its key id
 * and sealed bytes change. Rows that do not open with the store's key are not touched and stop the rotation, named.
 */
import { InvalidInput, Retryable } from "@baton/core";
import { Effect } from "effect";
import type pg from "pg";
import { PRESENCE_GRACE_MS, presenceHeld } from "./presence.ts";
import { KEY_CHECK_AAD, KEY_CHECK_TEXT, newerSchema, readinessError, SCHEMA_VERSION, schemaVersion } from "./schema.ts";
import { open, REGISTRY_AAD, type StoreKey, seal, secretAad } from "./sealing.ts";
import { transactionInOneTrip } from "./session.ts";
import type { PostgresStoreShape } from "./store.ts";

export interface KeyRotation {
  /** The key the store was sealed with. */
  readonly from: string;
  /** The key it is sealed with now. */
  readonly to: string;
  /** Secrets re-sealed. */
  readonly secrets: number;
  /** Whether there was a provider registry to re-seal. */
  readonly registry: boolean;
  /** The store was already sealed with `to`: nothing was changed. */
  readonly unchanged: boolean;
}

/** A refresh between its claim and its store: the rotation waits for it. */
interface OpenClaim {
  readonly provider: string;
  readonly account: string;
  readonly generation: number;
  readonly host: string;
  readonly pid: number;
}

/** How long a rotation waits for refreshes in progress to finish before it gives up (exit 4). */
const WAIT_FOR_REFRESHES_MS = 30_000;
const RETRY_EVERY_MS = 200;

/** How long a rotation waits for a statement in flight on its tables (a process storing its refresh) to finish. */
const LOCK_TIMEOUT = "SET LOCAL lock_timeout = '10s'";

/** SQLSTATE 55P03: `lock_timeout` passed. */
const LOCK_NOT_AVAILABLE = "55P03";

const sqlState = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined;

const invalid = (message: string) => new InvalidInput({ reason: "config", message });

/** Why a rotation attempt stopped before changing anything, to be tried again. */
class RefreshInProgress {
  readonly claims: ReadonlyArray<OpenClaim>;
  constructor(claims: ReadonlyArray<OpenClaim>) {
    this.claims = claims;
  }
}

/**
 * The claims of refreshes that may still store what they are presenting: not released, not superseded by a stored
 * generation, and their claimant alive as claims.ts judges it — its presence held, or, once presented, its presence
 * lost less than {@link PRESENCE_GRACE_MS} ago (it may be reconnecting to store its answer).
 */
const OPEN_CLAIMS =
  "SELECT c.provider, c.account, c.generation, c.host, c.pid FROM baton.claims c " +
  "LEFT JOIN baton.secrets s ON s.provider = c.provider AND s.account = c.account " +
  "WHERE c.released IS NULL AND (s.generation IS NULL OR s.generation <= c.generation) " +
  `AND (${presenceHeld("c.presence")} OR ((c.presenting OR c.rotated) AND NOT (c.presence_lost_at IS NOT NULL ` +
  "AND c.presence_lost_at <= now() - make_interval(secs => $1::float8 / 1000)))) " +
  "ORDER BY c.provider, c.account";

/**
 * Judges presented claims whose claimant's presence is not held, as claims.ts does: the first judge records when
 * (on the database's clock), and the claimant counts as gone {@link PRESENCE_GRACE_MS} later unless it reconnects.
 * Outside the rotation's transaction, so the record stays when the rotation waits.
 */
const JUDGE_LOST_PRESENCES =
  "UPDATE baton.claims c SET presence_lost_at = now() WHERE c.released IS NULL AND (c.presenting OR c.rotated) " +
  `AND c.presence_lost_at IS NULL AND NOT ${presenceHeld("c.presence")}`;

/** One attempt, in one transaction: re-seals everything, or throws (nothing changed). */
const rotateOnce = async (client: pg.Client, where: string, from: StoreKey, to: StoreKey): Promise<KeyRotation> => {
  const version = await schemaVersion(client);
  if (version === 0) throw invalid(`there is no baton store at ${where} yet: run \`baton store init\``);
  if (version > SCHEMA_VERSION) throw newerSchema(where, version);
  await transactionInOneTrip(client, [[LOCK_TIMEOUT], [JUDGE_LOST_PRESENCES]]);
  await client.query("BEGIN");
  try {
    await client.query(LOCK_TIMEOUT);
    await client.query("LOCK TABLE baton.key_check, baton.registry, baton.secrets, baton.claims IN EXCLUSIVE MODE");
    const check = (await client.query<{ key_id: string; sealed: Buffer }>("SELECT key_id, sealed FROM baton.key_check"))
      .rows[0];
    if (check === undefined) throw invalid(`the baton store at ${where} has no key yet: run \`baton store init\``);
    const secrets = await client.query<{
      provider: string;
      account: string;
      generation: number;
      key_id: string;
      sealed: Buffer;
    }>("SELECT provider, account, generation, key_id, sealed FROM baton.secrets ORDER BY provider, account");
    const registry = (
      await client.query<{ key_id: string; sealed: Buffer }>("SELECT key_id, sealed FROM baton.registry")
    ).rows[0];
    if (check.key_id === to.id) {
      // Rotated already (one transaction re-seals everything with the key check): run again, it changes nothing.
      await client.query("ROLLBACK");
      return { from: from.id, to: to.id, secrets: 0, registry: false, unchanged: true };
    }
    if (check.key_id !== from.id) {
      throw invalid(
        `the key given (key ${from.id}) is not the key of the baton store at ${where} (key ${check.key_id})`,
      );
    }
    if (open(from, KEY_CHECK_AAD, check.sealed)?.toString("utf8") !== KEY_CHECK_TEXT) {
      throw invalid(`the key check of the baton store at ${where} does not open with key ${from.id}: it was altered`);
    }
    const inProgress = await client.query<OpenClaim>(OPEN_CLAIMS, [PRESENCE_GRACE_MS]);
    if (inProgress.rows.length > 0) throw new RefreshInProgress(inProgress.rows);

    for (const row of secrets.rows) {
      const name = `${row.provider}:${row.account}`;
      const aad = secretAad(row.provider, row.account, row.generation);
      const plain = row.key_id === from.id ? open(from, aad, row.sealed) : undefined;
      if (plain === undefined) {
        throw invalid(
          `the secret of ${name} (generation ${row.generation}, key ${row.key_id}) does not open with key ${from.id}; ` +
            "nothing was rotated: run `baton doctor`, or log that account in again, then rotate",
        );
      }
      await client.query("UPDATE baton.secrets SET key_id = $3, sealed = $4 WHERE provider = $1 AND account = $2", [
        row.provider,
        row.account,
        to.id,
        seal(to, aad, plain),
      ]);
    }
    if (registry !== undefined) {
      const plain = registry.key_id === from.id ? open(from, REGISTRY_AAD, registry.sealed) : undefined;
      if (plain === undefined) {
        throw invalid(
          `the provider registry (key ${registry.key_id}) does not open with key ${from.id}; nothing was rotated`,
        );
      }
      await client.query("UPDATE baton.registry SET key_id = $1, sealed = $2", [to.id, seal(to, REGISTRY_AAD, plain)]);
    }
    await client.query("UPDATE baton.key_check SET key_id = $1, sealed = $2, created_at = now()", [
      to.id,
      seal(to, KEY_CHECK_AAD, Buffer.from(KEY_CHECK_TEXT, "utf8")),
    ]);
    await client.query("COMMIT");
    return {
      from: from.id,
      to: to.id,
      secrets: secrets.rows.length,
      registry: registry !== undefined,
      unchanged: false,
    };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
};

const inProgressMessage = (where: string, claims: ReadonlyArray<OpenClaim>) =>
  `a refresh is still in progress after ${WAIT_FOR_REFRESHES_MS / 1000} s in the baton store at ${where} (` +
  claims.map((c) => `${c.provider}:${c.account} generation ${c.generation} by pid ${c.pid} on ${c.host}`).join("; ") +
  "); nothing was rotated: try again";

/**
 * Rotates the store from its key (`store.key`, checked like every use) to `to`; waits up to 30 s for refreshes in
 * progress. Idempotent: a store already sealed with `to` is left as it is (`unchanged`).
 */
export const rotateKey = (
  store: PostgresStoreShape,
  to: StoreKey,
): Effect.Effect<KeyRotation, InvalidInput | Retryable> =>
  Effect.gen(function* () {
    const from = store.key;
    if (from === undefined) {
      return yield* invalid(
        "no store key is set: set BATON_STORE_KEY or BATON_STORE_KEY_FILE to the store's current key",
      );
    }
    if (from.id === to.id) return yield* invalid(`the new key is the store key given (key ${from.id})`);
    return yield* Effect.tryPromise({
      try: () =>
        store.session.retrying(async (client) => {
          const deadline = Date.now() + WAIT_FOR_REFRESHES_MS;
          for (;;) {
            try {
              return await rotateOnce(client, store.where, from, to);
            } catch (error) {
              if (!(error instanceof RefreshInProgress)) throw error;
              if (Date.now() >= deadline) {
                throw new Retryable({
                  account: store.where,
                  reason: "in-flight-elsewhere",
                  message: inProgressMessage(store.where, error.claims),
                });
              }
              await new Promise((resolve) => setTimeout(resolve, RETRY_EVERY_MS));
            }
          }
        }),
      catch: (error) =>
        sqlState(error) === LOCK_NOT_AVAILABLE
          ? new Retryable({
              account: store.where,
              reason: "lock-timeout",
              message: `the tables of the baton store at ${store.where} stayed locked by another transaction for 10 s; nothing was rotated: try again`,
            })
          : readinessError(store.where, error),
    });
  });
