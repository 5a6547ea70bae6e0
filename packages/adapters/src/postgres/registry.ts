/**
 * The provider registry in the PostgreSQL store: the same document as `config.json` (providers with their client
 * secrets, default accounts, credential-helper hosts; decoded by the same rules, config/provider-config.ts) kept as
 * ONE sealed row of `baton.registry` (AES-256-GCM under the store key, like the secrets: a client secret is never in
 * the clear in the database), with a revision number. Every machine that shares the store sees the same providers
 * and defaults with nothing else configured.
 *
 * `modify` is compare-and-set on the revision: the change is decided on the document as read, and written only if
 * the revision is still the one read (else it is decided again on the newer document), so concurrent changes from
 * any machine apply one after the other and none is lost — and no transaction stays open while `change` runs. A
 * document that does not open or decode is never overwritten: the change stops with `InvalidInput` naming the
 * problem.
 */
import { InvalidInput } from "@baton/core";
import { Effect, Layer } from "effect";
import type pg from "pg";
import { type BatonConfig, decodeConfigText, emptyConfig, encodeConfigText } from "../config/provider-config.ts";
import {
  type ChangeError,
  type ConfigError,
  RegistryStore,
  type RegistryStoreShape,
} from "../config/provider-registry.ts";
import { ROTATED_SINCE, refuseIfRotated, whileStoreKeyIs } from "./schema.ts";
import { open, REGISTRY_AAD, seal } from "./sealing.ts";
import { PostgresStore, type PostgresStoreShape } from "./store.ts";

interface RegistryRow {
  readonly revision: number;
  readonly key_id: string;
  readonly sealed: Buffer;
}

export const make = (store: PostgresStoreShape): RegistryStoreShape => {
  const where = `the provider registry of the baton store at ${store.where}`;
  const problem = (text: string) => new InvalidInput({ reason: "config", message: `${where}: ${text}` });

  /** The last document decoded, with its sealed bytes (each read fetches the row; it is decoded once). */
  let last: { readonly sealed: Buffer; readonly config: BatonConfig } | undefined;

  /** The document of `row` (the empty registry when there is none), or what is wrong with it. */
  const decode = (row: RegistryRow | undefined): BatonConfig | InvalidInput => {
    if (row === undefined) return emptyConfig;
    if (last !== undefined && row.key_id === store.key?.id && last.sealed.equals(row.sealed)) return last.config;
    if (store.key === undefined) return problem("no store key is set");
    if (row.key_id !== store.key.id) {
      return problem(
        `it is sealed with key ${row.key_id}, not with the store key given (${store.key.id}); ${ROTATED_SINCE}`,
      );
    }
    const text = open(store.key, REGISTRY_AAD, row.sealed);
    if (text === undefined) return problem("it does not open with the store key: it was altered");
    const outcome = decodeConfigText(text.toString("utf8"));
    if (outcome._tag === "invalid") return problem(outcome.problem);
    last = { sealed: row.sealed, config: outcome.config };
    return outcome.config;
  };

  const select = (client: pg.Client, forUpdate: boolean) =>
    client
      .query<RegistryRow>(`SELECT revision, key_id, sealed FROM baton.registry${forUpdate ? " FOR UPDATE" : ""}`)
      .then((found) => found.rows[0]);

  const load = (): Effect.Effect<BatonConfig, ConfigError> =>
    store
      .query("read the provider registry", (client) => select(client, false))
      .pipe(
        Effect.flatMap((row) => {
          const decoded = decode(row);
          return decoded instanceof InvalidInput ? Effect.fail(decoded) : Effect.succeed(decoded);
        }),
      );

  const modify = <E>(
    change: (config: BatonConfig) => Effect.Effect<BatonConfig, E>,
  ): Effect.Effect<BatonConfig, ChangeError | E> =>
    Effect.gen(function* () {
      // Optimistic: decide on the current revision, then write only if it is still current (else decide again).
      for (;;) {
        const row = yield* store.query("read the provider registry", (client) => select(client, false));
        const current = decode(row);
        if (current instanceof InvalidInput) return yield* current;
        const next = yield* change(current);
        if (next === current) return current;
        const key = store.key;
        if (key === undefined) return yield* problem("no store key is set");
        const sealed = seal(key, REGISTRY_AAD, Buffer.from(encodeConfigText(next), "utf8"));
        const written = yield* store.query("write the provider registry", async (client) => {
          const updated =
            row === undefined
              ? await client.query(
                  "INSERT INTO baton.registry (revision, key_id, sealed) " +
                    `SELECT 1, $1, $2::bytea WHERE ${whileStoreKeyIs("$1")} ON CONFLICT (id) DO NOTHING`,
                  [key.id, sealed],
                )
              : await client.query(
                  "UPDATE baton.registry SET revision = revision + 1, key_id = $1, sealed = $2, updated_at = now() " +
                    `WHERE revision = $3 AND ${whileStoreKeyIs("$1")}`,
                  [key.id, sealed, row.revision],
                );
          if (updated.rowCount === 1) return true;
          await refuseIfRotated(client, store.where, key.id);
          // A COMMIT whose answer was lost may have gone through: our bytes there mean it did.
          const now = await select(client, false);
          return now?.sealed.equals(sealed) === true;
        });
        if (written) return next;
      }
    });

  return { where, load, modify };
};

/** The PostgreSQL registry as the {@link RegistryStore}. */
export const layer: Layer.Layer<RegistryStore, never, PostgresStore> = Layer.effect(
  RegistryStore,
  Effect.gen(function* () {
    return RegistryStore.of(make(yield* PostgresStore));
  }),
);
