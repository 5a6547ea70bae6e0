/**
 * The PostgreSQL connection of this process: ONE `pg` client per store URL, shared by every port of the store and by
 * every store instance in the process (two embedded hosts on one database share it). One connection, not a pool, is a
 * choice: the account lock and the presence of this process's claims and sessions are SESSION advisory locks, which
 * live exactly as long as the connection that took them — a connection holding one is never handed to anyone else —
 * and LISTEN needs a connection of its own too. Folding them onto one connection keeps a process at one server
 * backend (a herd of 64 processes is 64 connections, not 256), and the protocol's database work in a process is
 * sequential anyway (one flight per account).
 *
 * - `run(work)` gives `work` exclusive use of the connection for one unit — a query or a whole transaction — so that
 *   statements of two fibers never interleave inside a transaction; it connects first when needed.
 * - A connection that fails (the server restarted, the backend was terminated, the network dropped it) is discarded
 *   at once; everything held on it is gone with it: `epoch()` changes, so a lock lease taken on an older epoch knows
 *   it was lost. `run` fails with {@link ConnectionLost} (the stores decide whether their work may be retried, and
 *   how to learn whether a COMMIT whose answer was lost went through); `retrying` retries idempotent work on a new
 *   connection for up to {@link RECONNECT_WINDOW_MS}.
 * - `reconnected` hooks run first on every new connection (after the first): the stores re-take the presence locks of
 *   the claims and sessions still open in this process and say so in their rows. When such locks or listeners exist,
 *   a lost connection is re-established in the background at once, not at the next use.
 * - Notifications: `listen(channel, wake)` LISTENs (in the connection's first round trip when it is not connected yet,
 *   and again after every reconnect) and calls `wake(payload)` for each notification; after a reconnect every
 *   listener is woken with `undefined` (a notification may have been missed: re-read).
 * - Server-side TCP keepalives are set per session (idle 10 s, 5 s × 3 probes), so a client that vanished without
 *   closing its socket (a machine that lost power, a cut link) loses its advisory locks within about 25 s rather than
 *   the operating system's two hours; `idle_in_transaction_session_timeout` (30 s) ends a transaction abandoned by a
 *   stalled process. Client-side, queries time out after {@link QUERY_TIMEOUT_MS} (the connection is then discarded:
 *   a query whose answer never came leaves it in an unknown state).
 *
 * The connection is closed when the last user releases the session (the layers' scopes), so a CLI process exits as
 * soon as its command is done. `pg` (node-postgres) is the client: the most used PostgreSQL driver for Node, pure
 * JavaScript (no native build), with the `connectionString` parsing of libpq URLs (`postgres://`, `postgresql://`,
 * `sslmode` and the other query options) that BATON_STORE promises.
 */
import pg from "pg";

/** How long `retrying` keeps trying idempotent work while the server is unreachable (a restart, a failover). */
export const RECONNECT_WINDOW_MS = 20_000;
/** A query without an answer for this long is abandoned and its connection discarded. */
export const QUERY_TIMEOUT_MS = 30_000;
/** Connecting gives up after this long. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** The connection was lost (or could not be made) while `run` used it. */
export class ConnectionLost extends Error {
  readonly _tag = "ConnectionLost";
}

/** SQLSTATE classes and codes that mean "the connection is gone or refused", not "the statement failed". */
const CONNECTION_SQLSTATE = /^(08|57P0[123]|53300)/;

/** pg's own messages for a connection that went away or never answered. */
const CONNECTION_MESSAGE =
  /connection terminated|connection error|not queryable|query read timeout|timeout expired|\bE(PIPE|CONNRESET|CONNREFUSED|CONNABORTED|TIMEDOUT|HOSTUNREACH|NETUNREACH)\b/i;

/** Whether `error` is about the connection (not about a statement, and not one of baton's own errors). */
export const isConnectionError = (error: unknown): boolean => {
  if (error instanceof ConnectionLost) return true;
  if (!(error instanceof Error)) return false;
  // A socket error (ECONNREFUSED, ECONNRESET, EPIPE, ETIMEDOUT, EHOSTUNREACH…): a system call failed.
  if ("syscall" in error || "errno" in error) return true;
  const code = "code" in error && typeof error.code === "string" ? error.code : undefined;
  // A SQLSTATE from the server (an error response has a severity): only the connection classes.
  if (code !== undefined && "severity" in error) return CONNECTION_SQLSTATE.test(code);
  return CONNECTION_MESSAGE.test(error.message);
};

/** 64-bit integers (sequence values, milliseconds) as numbers; baton's never exceed 2^53. */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === 20
      ? (text: string) => Number(text)
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig["getTypeParser"],
};

/** How baton connects to the store (the session's connection, and the `baton token` fast path's). */
export const clientConfig = (url: string): pg.ClientConfig => ({
  connectionString: url,
  types,
  keepAlive: true,
  keepAliveInitialDelayMillis: 10_000,
  connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  query_timeout: QUERY_TIMEOUT_MS,
  idle_in_transaction_session_timeout: 30_000,
  application_name: "baton",
  // Statements a unit of work sends without waiting in between share one round trip (see `pipelined`).
  pipeline: true,
});

export type Work<T> = (client: pg.Client) => Promise<T>;

/** A statement and its parameters. */
export type Statement = readonly [text: string, values?: ReadonlyArray<unknown>];

/**
 * Sends `statements` without waiting between them (the connection pipelines them: one round trip for all) and
 * resolves with their results in order; rejects with the first failure once every one has answered.
 */
export const pipelined = async (client: pg.Client, statements: ReadonlyArray<Statement>): Promise<pg.QueryResult[]> => {
  const sent = statements.map(([text, values]) => client.query(text, values === undefined ? undefined : [...values]));
  const settled = await Promise.allSettled(sent);
  const failed = settled.find((outcome) => outcome.status === "rejected");
  if (failed !== undefined) throw failed.reason;
  return settled.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : []));
};

/**
 * `statements` in one transaction, BEGIN and COMMIT included, in one round trip; any failure rolls it all back (the
 * server turns the COMMIT of a failed transaction into a rollback) and is thrown. Resolves with the statements'
 * results.
 */
export const transactionInOneTrip = async (
  client: pg.Client,
  statements: ReadonlyArray<Statement>,
): Promise<pg.QueryResult[]> => {
  try {
    const results = await pipelined(client, [["BEGIN"], ...statements, ["COMMIT"]]);
    return results.slice(1, -1);
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
};

export interface Session {
  /** The store URL, without its password (for messages). */
  readonly where: string;
  /** Runs `work` alone on the connection, connecting first if needed; a lost connection fails with ConnectionLost. */
  run<T>(work: Work<T>): Promise<T>;
  /** `run`, retried on a new connection while the server is unreachable (for work that is safe to repeat). */
  retrying<T>(work: Work<T>): Promise<T>;
  /** The incarnation of the connection: changes whenever a connection is lost. */
  epoch(): number;
  /** The backend process id of the current connection, if connected (diagnostics). */
  backendPid(): number | undefined;
  /** Runs `hook` on every new connection after the first, before any other work; returns its removal. */
  reconnected(hook: Work<void>): () => void;
  /** Keeps the connection re-established eagerly while `count` says something is held on it. */
  keepAlive(count: () => number): () => void;
  /** Listens on `channel`; `wake` gets each payload, and `undefined` after a reconnect. Returns the removal. */
  listen(channel: string, wake: (payload: string | undefined) => void): Promise<() => void>;
  /** Memoized per session: `make` runs once (again after it failed). */
  once<T>(name: string, make: () => Promise<T>): Promise<T>;
}

interface Shared {
  readonly session: Session;
  refs: number;
  readonly close: () => Promise<void>;
}

const sessions = new Map<string, Shared>();

/** The URL without its password, for messages. */
export const describeUrl = (url: string): string => {
  const parsed = URL.parse(url);
  if (parsed === null) return "(an unparsable BATON_STORE URL)";
  parsed.password = "";
  parsed.search = "";
  return parsed.toString();
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const makeSession = (url: string): Shared => {
  let client: pg.Client | undefined;
  /** The backend of the current connection, as pg_stat_activity names it. */
  let backend: { readonly pid: number; readonly started: string } | undefined;
  /** Backends of discarded connections that the server may not have noticed yet (they would hold our locks). */
  let orphans: Array<{ readonly pid: number; readonly started: string }> = [];
  let connecting: Promise<pg.Client> | undefined;
  let generation = 0;
  let everConnected = false;
  let closed = false;
  let queue: Promise<unknown> = Promise.resolve();
  const hooks = new Set<Work<void>>();
  const holders = new Set<() => number>();
  const channels = new Map<string, Set<(payload: string | undefined) => void>>();
  const memo = new Map<string, Promise<unknown>>();

  const discard = (lost: pg.Client): void => {
    if (client !== lost) return;
    client = undefined;
    if (backend !== undefined) orphans.push(backend);
    backend = undefined;
    generation += 1;
    lost.removeAllListeners("notification");
    lost.connection.stream.destroy();
    lost.end().catch(() => undefined);
    if (!closed && (channels.size > 0 || [...holders].some((count) => count() > 0))) reestablish();
  };

  const connect = async (): Promise<pg.Client> => {
    const fresh = new pg.Client(clientConfig(url));
    fresh.on("error", () => discard(fresh));
    fresh.on("end", () => discard(fresh));
    let identity: { readonly pid: number; readonly started: string } | undefined;
    try {
      await fresh.connect();
      fresh.on("notification", (message) => {
        for (const wake of channels.get(message.channel) ?? []) wake(message.payload);
      });
      // One round trip: who this backend is, its keepalives, and the channels listened to.
      const [self] = await pipelined(fresh, [
        [
          "SELECT pid, backend_start::text AS started, set_config('tcp_keepalives_idle', '10', false), " +
            "set_config('tcp_keepalives_interval', '5', false), set_config('tcp_keepalives_count', '3', false) " +
            "FROM pg_stat_activity WHERE pid = pg_backend_pid()",
        ],
        ...[...channels.keys()].map((channel): Statement => [`LISTEN ${channel}`]),
      ]);
      identity = self?.rows[0];
      if (orphans.length > 0) {
        // A connection this process gave up on (a query that never answered) may still live at the server, holding
        // this process's locks: end it, so they can be taken again here. Matched on pid AND start time, so a reused
        // pid of someone else's backend is never touched.
        await fresh.query(
          "SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a " +
            "JOIN unnest($1::int[], $2::text[]) AS o(pid, started) ON a.pid = o.pid AND a.backend_start::text = o.started",
          [orphans.map((o) => o.pid), orphans.map((o) => o.started)],
        );
        orphans = [];
      }
      if (everConnected) for (const hook of hooks) await hook(fresh);
    } catch (error) {
      fresh.removeAllListeners("notification");
      fresh.connection.stream.destroy();
      await fresh.end().catch(() => undefined);
      throw new ConnectionLost(
        `could not connect to ${describeUrl(url)}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const reconnect = everConnected;
    everConnected = true;
    client = fresh;
    backend = identity;
    if (reconnect) for (const wakers of channels.values()) for (const wake of wakers) wake(undefined);
    return fresh;
  };

  const current = (): Promise<pg.Client> => {
    if (client !== undefined) return Promise.resolve(client);
    connecting ??= connect().finally(() => {
      connecting = undefined;
    });
    return connecting;
  };

  /** Reconnects in the background (backing off) while something held on the connection needs it back. */
  let reestablishing = false;
  const reestablish = (): void => {
    if (reestablishing) return;
    reestablishing = true;
    void (async () => {
      for (let attempt = 0; !closed && client === undefined; attempt++) {
        try {
          await exclusive(() => current());
        } catch {
          await sleep(Math.min(2_000, 50 * 2 ** attempt));
        }
      }
      reestablishing = false;
    })();
  };

  const exclusive = <T>(task: () => Promise<T>): Promise<T> => {
    const next = queue.then(task, task);
    queue = next.catch(() => undefined);
    return next;
  };

  const run = <T>(work: Work<T>): Promise<T> =>
    exclusive(async () => {
      if (closed) throw new ConnectionLost(`the connection to ${describeUrl(url)} was closed`);
      const used = await current();
      try {
        return await work(used);
      } catch (error) {
        if (!isConnectionError(error)) throw error;
        discard(used);
        if (error instanceof ConnectionLost) throw error;
        throw new ConnectionLost(
          `the connection to ${describeUrl(url)} was lost: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    });

  const retrying = async <T>(work: Work<T>): Promise<T> => {
    const deadline = Date.now() + RECONNECT_WINDOW_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        return await run(work);
      } catch (error) {
        if (!(error instanceof ConnectionLost) || Date.now() >= deadline || closed) throw error;
        await sleep(Math.min(1_000, 25 * 2 ** attempt));
      }
    }
  };

  const session: Session = {
    where: describeUrl(url),
    run,
    retrying,
    epoch: () => generation,
    backendPid: () => backend?.pid,
    reconnected: (hook) => {
      hooks.add(hook);
      return () => hooks.delete(hook);
    },
    keepAlive: (count) => {
      holders.add(count);
      return () => holders.delete(count);
    },
    listen: async (channel, wake) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new RangeError(`bad channel name ${channel}`);
      let wakers = channels.get(channel);
      if (wakers === undefined) {
        wakers = new Set();
        channels.set(channel, wakers);
        // Not connected yet: the connection LISTENs in its first round trip. Otherwise (or while connecting, past
        // that point perhaps) LISTEN now.
        if (client !== undefined || connecting !== undefined) {
          try {
            await retrying((c) => c.query(`LISTEN ${channel}`));
          } catch (error) {
            channels.delete(channel);
            throw error;
          }
        }
      }
      wakers.add(wake);
      return () => {
        wakers.delete(wake);
      };
    },
    once: <T>(name: string, make: () => Promise<T>): Promise<T> => {
      const known = memo.get(name) as Promise<T> | undefined;
      if (known !== undefined) return known;
      const made = make().catch((error: unknown) => {
        memo.delete(name);
        throw error;
      });
      memo.set(name, made);
      return made;
    },
  };

  return {
    session,
    refs: 0,
    close: async () => {
      // Work already queued (a diagnostic note sent without waiting) is finished first.
      await queue;
      closed = true;
      const open = client;
      client = undefined;
      generation += 1;
      await open?.end().catch(() => undefined);
    },
  };
};

/** The session of `url` in this process, shared and counted; `release` closes it after its last user. */
export const acquireSession = (url: string): { readonly session: Session; readonly release: () => Promise<void> } => {
  let shared = sessions.get(url);
  if (shared === undefined) {
    shared = makeSession(url);
    sessions.set(url, shared);
  }
  shared.refs += 1;
  const entry = shared;
  let released = false;
  return {
    session: entry.session,
    release: async () => {
      if (released) return;
      released = true;
      entry.refs -= 1;
      if (entry.refs > 0) return;
      if (sessions.get(url) === entry) sessions.delete(url);
      await entry.close();
    },
  };
};
