/**
 * Active sessions (`baton exec`, embedded hosts) in `baton.sessions`, one row per session keyed by a presence key
 * (presence.ts): the session's process holds that key's advisory lock while the session lasts, so any machine tells a
 * live session from an orphan by asking the database — not by probing a pid that may live on another machine, and not
 * by the age of the row. A session ends by deleting its row; a process that died leaves an orphan row whose lock no
 * one holds, which `stale` reports and `baton clean` removes.
 */
import { type AccountRef, HostIdentity, type SessionRecord, Sessions, type StoreFailure } from "@baton/core";
import { Clock, Effect, Layer } from "effect";
import { presenceHeld, presenceOf } from "./presence.ts";
import { PostgresStore } from "./store.ts";

interface SessionRow {
  readonly presence: number;
  readonly provider: string;
  readonly account: string;
  readonly host: string;
  readonly pid: number;
  readonly kind: SessionRecord["kind"];
  readonly started_at: number;
  readonly seen_at: number;
  readonly held: boolean;
}

const toRecord = (row: SessionRow): SessionRecord => ({
  account: `${row.provider}:${row.account}`,
  host: row.host,
  pid: row.pid,
  kind: row.kind,
  startedAt: row.started_at,
  seenAt: row.seen_at,
});

const SELECT_SESSIONS =
  "SELECT presence, provider, account, host, pid, kind, started_at, seen_at, " +
  `${presenceHeld("presence")} AS held FROM baton.sessions`;

export const layer: Layer.Layer<Sessions, never, PostgresStore | HostIdentity> = Layer.effect(
  Sessions,
  Effect.gen(function* () {
    const store = yield* PostgresStore;
    const identity = yield* HostIdentity;
    const presence = presenceOf(store.session);

    const rows = (account: AccountRef | undefined): Effect.Effect<ReadonlyArray<SessionRow>, StoreFailure> =>
      store.query("read the sessions", async (client) => {
        const found =
          account === undefined
            ? await client.query<SessionRow>(`${SELECT_SESSIONS} ORDER BY started_at`)
            : await client.query<SessionRow>(
                `${SELECT_SESSIONS} WHERE provider = $1 AND account = $2 ORDER BY started_at`,
                [account.provider, account.account],
              );
        return found.rows;
      });

    return Sessions.of({
      register: (account, kind) =>
        Effect.acquireRelease(
          Effect.gen(function* () {
            const now = yield* Clock.currentTimeMillis;
            return yield* store.query("register a session", async (client) => {
              const key = await presence.open(client);
              await client.query(
                "INSERT INTO baton.sessions (presence, provider, account, host, pid, kind, started_at, seen_at) " +
                  "VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                [key, account.provider, account.account, identity.host, identity.pid, kind, now],
              );
              return key;
            });
          }),
          (key) =>
            Effect.promise(async () => {
              await store.session
                .run((client) => client.query("DELETE FROM baton.sessions WHERE presence = $1", [key]))
                .catch(() => undefined);
              await presence.close(key);
            }),
        ).pipe(Effect.asVoid),
      active: (account) => Effect.map(rows(account), (found) => found.filter((row) => row.held).map(toRecord)),
      stale: () => Effect.map(rows(undefined), (found) => found.filter((row) => !row.held).map(toRecord)),
      remove: (session) =>
        store.query("remove a session", async (client) => {
          const [provider = "", name = ""] = session.account.split(":");
          await client.query(
            "DELETE FROM baton.sessions WHERE provider = $1 AND account = $2 AND host = $3 AND pid = $4 " +
              `AND started_at = $5 AND NOT ${presenceHeld("presence")}`,
            [provider, name, session.host, session.pid, session.startedAt],
          );
        }),
    });
  }),
);
