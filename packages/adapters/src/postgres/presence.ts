/**
 * Presence: how the database tells whether the process behind a claim or a session is still there, without trusting
 * any clock across machines (I5). Each open claim or session of this process gets a key from the sequence
 * `baton.presence_keys` and this process's connection holds a SESSION advisory lock on that key for as long as the
 * claim's scope (or the session) is open. The row records the key; another process judges it alive exactly while
 * `pg_locks` shows that lock granted. A process that dies, or whose connection dies, loses its locks at once.
 *
 * A connection can also die under a live process (a server restart, a terminated backend, a failover). On every new
 * connection the keys still open are locked again and their rows' `presence_lost_at` cleared (session.ts's
 * reconnect hook, run before any other work), and the connection is re-established eagerly while keys are open.
 * The judges (claims.ts) therefore give a released presence a grace of {@link PRESENCE_GRACE_MS} before they call a
 * presented claim's claimant gone, measured from when the first judge found it released — both instants on the
 * database's clock (`now()`), never a machine's. A presence closed on purpose (the claim's scope ended) says so in
 * its row (`presence_lost_at` = -infinity): no grace then.
 */
import type pg from "pg";
import type { Session } from "./session.ts";

/** How long a released presence of a presented claim counts as "reconnecting" before its claimant counts as gone. */
export const PRESENCE_GRACE_MS = 5_000;

/** SQL: whether the presence lock `column` (a bigint key) is granted to some backend of this database. */
export const presenceHeld = (column: string): string =>
  "EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 " +
  "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) " +
  `AND l.classid::bigint = (${column} >> 32) AND l.objid::bigint = (${column} & 4294967295))`;

export interface Presence {
  /** A new key, locked on this connection (call inside `session.run`); open until {@link Presence.close}. */
  readonly open: (client: pg.Client) => Promise<number>;
  /** Unlocks `key` (idempotent). A connection already gone released it anyway. */
  readonly close: (key: number) => Promise<void>;
  /** Whether `key` is open in this process. */
  readonly isOpen: (key: number) => boolean;
}

const presences = new WeakMap<Session, Presence>();

/** The presence registry of `session`'s process (one per session, shared by every store instance on it). */
export const presenceOf = (session: Session): Presence => {
  const known = presences.get(session);
  if (known !== undefined) return known;
  const open = new Set<number>();
  session.reconnected(async (client) => {
    const keys = [...open];
    if (keys.length === 0) return;
    await client.query("SELECT pg_advisory_lock(k) FROM unnest($1::bigint[]) AS k", [keys]);
    await client.query("UPDATE baton.claims SET presence_lost_at = NULL WHERE presence = ANY($1::bigint[])", [keys]);
  });
  session.keepAlive(() => open.size);
  const presence: Presence = {
    open: async (client) => {
      const taken = await client.query<{ key: number }>(
        "SELECT k AS key, pg_advisory_lock(k) FROM (SELECT nextval('baton.presence_keys') AS k) AS s",
      );
      const key = taken.rows[0]?.key;
      if (key === undefined) throw new Error("the presence key sequence gave nothing");
      open.add(key);
      return key;
    },
    close: async (key) => {
      if (!open.delete(key)) return;
      // Given up on purpose: a claim's judges need not wait for a reconnection that will never come.
      await session
        .run((client) =>
          client.query(
            "WITH closed AS (UPDATE baton.claims SET presence_lost_at = '-infinity' WHERE presence = $1) " +
              "SELECT pg_advisory_unlock($1)",
            [key],
          ),
        )
        .catch(() => undefined);
    },
    isOpen: (key) => open.has(key),
  };
  presences.set(session, presence);
  return presence;
};
