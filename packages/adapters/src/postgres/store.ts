/**
 * The PostgreSQL store as the ports see it: the settings (BATON_STORE's URL and the store key), this process's
 * shared connection (session.ts), and `query`, which every port operation goes through: it makes the store ready
 * first (connected, migrated, key checked — once per process), runs the work alone on the connection, and turns a
 * lost connection or an unready store into the ports' `StoreFailure`. `ready` is the same check as a host sees it
 * (`InvalidInput`: no key, a wrong key, a newer schema, a refused login — exit 2; `Retryable`: unreachable — exit 4):
 * the CLI and the facade run it before anything else, so those errors surface as themselves, before any network call.
 *
 * Advisory-lock key spaces (the two-integer form, so they never meet the one-bigint presence keys of claims and
 * sessions): the account lock, and the transaction locks that serialize claim decisions and event appends per
 * account.
 */
import { InvalidInput, type Retryable, StoreFailure } from "@baton/core";
import { Context, Effect, Layer } from "effect";
import { ensureReady, readinessError } from "./schema.ts";
import type { StoreKey } from "./sealing.ts";
import { acquireSession, type Session, type Work } from "./session.ts";

/** Where the store is and how its secrets are sealed. */
export interface PostgresSettings {
  /** BATON_STORE: `postgres://…` or `postgresql://…`, libpq query options allowed. */
  readonly url: string;
  /** BATON_STORE_KEY / BATON_STORE_KEY_FILE; `undefined` when neither is set (then nothing can be stored). */
  readonly key: StoreKey | undefined;
}

/** The lock of an account (session-level, held by the refreshing process). */
export const ACCOUNT_LOCK_SPACE = 0x62746c6b;
/** Serializes the claim decisions on an account (transaction-level). */
export const CLAIM_DECISION_SPACE = 0x6274636c;
/** Serializes event appends to an account's stream (transaction-level). */
export const EVENT_APPEND_SPACE = 0x62746576;
/** The notification channel: payload = the account key (`provider:account`) whose lock or credentials changed. */
export const CHANGES_CHANNEL = "baton_changes";

/** Whether `url` is a PostgreSQL URL (what BATON_STORE must be). */
export const isPostgresUrl = (url: string): boolean => /^postgres(ql)?:\/\/[^\s]+$/.test(url);

export interface PostgresStoreShape {
  /** The URL without password or options, for messages. */
  readonly where: string;
  readonly session: Session;
  /** The sealing key (`undefined`: none given). */
  readonly key: StoreKey | undefined;
  /** Connected, migrated, the key present and checked: the error a host should see when not. */
  readonly ready: Effect.Effect<void, InvalidInput | Retryable>;
  /**
   * Runs `work` on the connection once the store is ready; `retry`: repeat it on a new connection while the server
   * is unreachable (only for work that is safe to repeat). Failures become `StoreFailure` saying `what` failed.
   */
  readonly query: <T>(
    what: string,
    work: Work<T>,
    options?: { readonly retry: boolean },
  ) => Effect.Effect<T, StoreFailure>;
}

export class PostgresStore extends Context.Service<PostgresStore, PostgresStoreShape>()(
  "@baton/adapters/PostgresStore",
) {}

const noKey = (where: string) =>
  new InvalidInput({
    reason: "config",
    message:
      `BATON_STORE names the baton store at ${where}, but no store key is set: set BATON_STORE_KEY or ` +
      "BATON_STORE_KEY_FILE (`baton store init --generate-key FILE` makes one); nothing was stored",
  });

/** The store handle over an acquired session, sealing with `key`. */
export const make = (key: StoreKey | undefined, session: Session): PostgresStoreShape => {
  const readiness = (): Promise<void> =>
    key === undefined ? Promise.reject(noKey(session.where)) : ensureReady(session, key);
  const ready = Effect.tryPromise({
    try: readiness,
    catch: (error) => readinessError(session.where, error),
  });
  const query = <T>(what: string, work: Work<T>, options = { retry: true }): Effect.Effect<T, StoreFailure> =>
    Effect.tryPromise({
      try: async () => {
        await readiness();
        return options.retry ? session.retrying(work) : session.run(work);
      },
      catch: (error) => {
        if (error instanceof StoreFailure) return error;
        const problem = readinessError(session.where, error);
        return new StoreFailure({
          reason: problem._tag === "InvalidInput" ? "permission" : "unavailable",
          message: `could not ${what} in the baton store at ${session.where}: ${problem.message}`,
        });
      },
    });
  return { where: session.where, session, key, ready, query };
};

/** The store of `settings` for the layers' lifetime: the shared connection is released when the scope closes. */
export const layer = (settings: PostgresSettings): Layer.Layer<PostgresStore> =>
  Layer.effect(
    PostgresStore,
    Effect.map(
      Effect.acquireRelease(
        Effect.sync(() => acquireSession(settings.url)),
        (acquired) => Effect.promise(acquired.release),
      ),
      (acquired) => PostgresStore.of(make(settings.key, acquired.session)),
    ),
  );
