/**
 * The client registry in the PostgreSQL store: one row of `baton.broker_clients` per client (its name, the SHA-256 of
 * its token, the accounts it may use), shared by every broker on the store, so a client token issued on any machine
 * is accepted by all of them and a removed one is refused by all of them from the next request on. The digest is kept
 * in the clear: it is the SHA-256 of 256 random bits, from which no token can be found (the file registry keeps it
 * the same way), and a broker compares it on every request without the store key.
 *
 * Each read is one query: a broker identifies a client on every request, and reading the small table costs a fraction
 * of a millisecond — less than keeping a cache exactly in step with the other machines.
 */
import { Effect, Layer } from "effect";
import type { ClientEntry, ClientRegistryShape } from "../broker/client-registry.ts";
import { ClientRegistry } from "../broker/client-registry.ts";
import { PostgresStore, type PostgresStoreShape } from "./store.ts";

interface ClientRow {
  readonly name: string;
  readonly sha256: string;
  readonly accounts: ReadonlyArray<string> | null;
  readonly created_at: string;
}

export const make = (store: PostgresStoreShape): ClientRegistryShape => ({
  where: `the baton store at ${store.where}`,
  entries: () =>
    store
      .query("read the broker's client tokens", (client) =>
        client.query<ClientRow>("SELECT name, sha256, accounts, created_at FROM baton.broker_clients ORDER BY name"),
      )
      .pipe(
        Effect.map((result) =>
          result.rows.map(
            (row): ClientEntry => ({
              name: row.name,
              sha256: row.sha256,
              accounts: row.accounts ?? undefined,
              createdAt: Number(row.created_at),
            }),
          ),
        ),
      ),
  insert: (entry) =>
    store.query("store a client token", async (client) => {
      const inserted = await client.query(
        "INSERT INTO baton.broker_clients (name, sha256, accounts, created_at) VALUES ($1, $2, $3, $4) " +
          "ON CONFLICT (name) DO NOTHING",
        [entry.name, entry.sha256, entry.accounts ?? null, entry.createdAt],
      );
      if (inserted.rowCount === 1) return true;
      // Repeated after a COMMIT whose answer was lost: our digest there means the first attempt went through.
      const found = await client.query<{ sha256: string }>("SELECT sha256 FROM baton.broker_clients WHERE name = $1", [
        entry.name,
      ]);
      return found.rows[0]?.sha256 === entry.sha256;
    }),
  remove: (name) =>
    store.query(
      "remove a client token",
      async (client) => {
        const removed = await client.query("DELETE FROM baton.broker_clients WHERE name = $1", [name]);
        return removed.rowCount === 1;
      },
      // Not repeated on a new connection: a removal whose answer was lost would then report "no such client".
      { retry: false },
    ),
});

/** The PostgreSQL client registry as the {@link ClientRegistry}. */
export const layer: Layer.Layer<ClientRegistry, never, PostgresStore> = Layer.effect(
  ClientRegistry,
  Effect.gen(function* () {
    return ClientRegistry.of(make(yield* PostgresStore));
  }),
);
