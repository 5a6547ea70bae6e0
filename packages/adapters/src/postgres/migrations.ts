/**
 * The PostgreSQL store's schema (`baton` in the database of BATON_STORE) as versioned migrations, in order; each
 * applied one is recorded in `baton.migrations` (schema.ts applies them). This module loads nothing but itself, so
 * the `baton token` fast path can check the schema version without loading Effect.
 *
 * Tables (all keyed by provider and account name, which are plain identifiers, not secrets):
 *
 * - `migrations` (version, applied_at, description); `key_check`: one value sealed with the store key, so a wrong key
 *   is refused before anything is read, written or sent;
 * - `registry`: the provider registry (providers with their client secrets, defaults, credential-helper hosts) as one
 *   sealed JSON document with a revision;
 * - `secrets`: one row per account, the current generation in the clear and the credentials sealed (AES-256-GCM, the
 *   key id beside them, the account and generation as additional authenticated data);
 * - `events`: the account streams, one JSON record per row, keyed by (provider, account, seq) — secret-free;
 * - `claims`: one row per (account, generation, attempt), the right to present that generation (I1); `presence` is the
 *   advisory-lock key that the claimant's connection holds while the claim is open (liveness judged by the database),
 *   `presence_lost_at` when a judge first found it released;
 * - (version 2) `sessions` with the same presence keys, `notes` (diagnostic flight notes, unsynced),
 *   `fold_checkpoints` (the lifecycle fold of a stream prefix), `quarantine` (records that did not open or decode,
 *   moved aside with their bytes);
 * - (version 3) `broker_clients`: the client tokens every broker (`baton serve`) on the store accepts, each as the
 *   SHA-256 of a 256-bit random token (not the token; see broker/client-registry.ts) with the accounts it may use.
 */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

/** Every migration, in order. Never edit one that shipped: add the next. */
export const MIGRATIONS: ReadonlyArray<Migration> = [
  {
    version: 1,
    description: "accounts: registry, key check, secrets, events, claims",
    sql: `
      CREATE SCHEMA IF NOT EXISTS baton;
      CREATE TABLE baton.migrations (
        version integer PRIMARY KEY,
        description text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE baton.key_check (
        id boolean PRIMARY KEY DEFAULT true CHECK (id),
        key_id text NOT NULL,
        sealed bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE baton.registry (
        id boolean PRIMARY KEY DEFAULT true CHECK (id),
        revision bigint NOT NULL,
        key_id text NOT NULL,
        sealed bytea NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE baton.secrets (
        provider text NOT NULL,
        account text NOT NULL,
        generation bigint NOT NULL CHECK (generation > 0),
        key_id text NOT NULL,
        sealed bytea NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (provider, account)
      );
      CREATE TABLE baton.events (
        provider text NOT NULL,
        account text NOT NULL,
        seq bigint NOT NULL,
        record jsonb NOT NULL,
        PRIMARY KEY (provider, account, seq)
      );
      CREATE SEQUENCE baton.presence_keys;
      CREATE TABLE baton.claims (
        provider text NOT NULL,
        account text NOT NULL,
        generation bigint NOT NULL,
        attempt integer NOT NULL,
        host text NOT NULL,
        pid integer NOT NULL,
        claimed_at bigint NOT NULL,
        refresh_fp text,
        presenting boolean NOT NULL DEFAULT false,
        rotated boolean NOT NULL DEFAULT false,
        released text,
        presence bigint NOT NULL,
        presence_lost_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (provider, account, generation, attempt)
      );
      CREATE INDEX claims_presence ON baton.claims (presence);
    `,
  },
  {
    version: 2,
    description: "sessions, diagnostic notes, fold checkpoints, quarantine",
    sql: `
      CREATE TABLE baton.sessions (
        presence bigint PRIMARY KEY,
        provider text NOT NULL,
        account text NOT NULL,
        host text NOT NULL,
        pid integer NOT NULL,
        kind text NOT NULL,
        started_at bigint NOT NULL,
        seen_at bigint NOT NULL
      );
      CREATE TABLE baton.notes (
        id bigserial PRIMARY KEY,
        provider text NOT NULL,
        account text NOT NULL,
        note jsonb NOT NULL
      );
      CREATE INDEX notes_account ON baton.notes (provider, account, id);
      CREATE TABLE baton.fold_checkpoints (
        provider text NOT NULL,
        account text NOT NULL,
        checkpoint jsonb NOT NULL,
        PRIMARY KEY (provider, account)
      );
      CREATE TABLE baton.quarantine (
        id bigserial PRIMARY KEY,
        what text NOT NULL,
        provider text,
        account text,
        problem text NOT NULL,
        content bytea NOT NULL,
        moved_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 3,
    description: "the client tokens of the brokers on the store",
    sql: `
      CREATE TABLE baton.broker_clients (
        name text PRIMARY KEY,
        sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
        accounts text[],
        created_at bigint NOT NULL
      );
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS.at(-1)?.version ?? 0;
