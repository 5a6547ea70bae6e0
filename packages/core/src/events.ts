/**
 * The event vocabulary of an account's append-only stream (schema version 1). Every event carries where and when it
 * happened (`at` in ms since the epoch, `host`, `pid`), a per-stream sequence number assigned by the event store, and
 * token *fingerprints* only — never token values (I8). The lifecycle machine folds these events; `baton replay` reads
 * them; docs/events.md describes each one.
 */
import { Schema } from "effect";

const Generation = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1));
const Fingerprint = Schema.String.check(Schema.isPattern(/^[0-9a-f]{8}$/));

/** Fields every event has. */
const envelope = {
  v: Schema.Literal(1),
  seq: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  at: Schema.Finite,
  host: Schema.String,
  pid: Schema.Int,
};

/** New credentials were durably stored (after a login, a refresh or an import). */
export const CredentialsStored = Schema.Struct({
  ...envelope,
  type: Schema.Literal("credentials.stored"),
  generation: Generation,
  source: Schema.Literals(["login", "refresh", "import"]),
  accessFp: Fingerprint,
  refreshFp: Schema.optionalKey(Fingerprint),
  expiresAt: Schema.Finite,
  scope: Schema.optionalKey(Schema.String),
  /** For an import: where the credentials came from (`claude-code ~/.claude/.credentials.json`, `baton-export`…). */
  origin: Schema.optionalKey(Schema.String),
});

/** The exclusive right to present generation `generation` was taken (attempt 1, or 2 inside a grace window). */
export const RefreshClaimed = Schema.Struct({
  ...envelope,
  type: Schema.Literal("refresh.claimed"),
  generation: Generation,
  attempt: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
});

/** A refresh failed without losing the account: the current generation stays and the caller may retry later. */
export const RefreshFailed = Schema.Struct({
  ...envelope,
  type: Schema.Literal("refresh.failed"),
  generation: Generation,
  reason: Schema.String,
  retryAfterMs: Schema.optionalKey(Schema.Finite),
});

/** The server rejected the stored generation (`invalid_grant` with no newer generation stored). */
export const RefreshRejected = Schema.Struct({
  ...envelope,
  type: Schema.Literal("refresh.rejected"),
  generation: Generation,
  error: Schema.String,
});

/** A claim for `generation` was found presented with no answer persisted: the outcome is unknown (I9). */
export const RefreshInDoubt = Schema.Struct({
  ...envelope,
  type: Schema.Literal("refresh.in-doubt"),
  generation: Generation,
  attempt: Schema.Int,
  claimant: Schema.Struct({ host: Schema.String, pid: Schema.Int, at: Schema.Finite }),
});

/** The account needs a new login. The last good record is kept for diagnosis (I4). */
export const AccountRevoked = Schema.Struct({
  ...envelope,
  type: Schema.Literal("account.revoked"),
  generation: Generation,
  reason: Schema.Literals(["invalid_grant", "in-doubt"]),
});

/** The user logged out: local secrets removed (and the refresh token revoked remotely unless `--keep-remote`). */
export const AccountLoggedOut = Schema.Struct({
  ...envelope,
  type: Schema.Literal("account.logged-out"),
  generation: Schema.Int,
  remoteRevoked: Schema.Boolean,
});

/** A process waited for the account lock before it could decide. */
export const LockWaited = Schema.Struct({
  ...envelope,
  type: Schema.Literal("lock.waited"),
  waitedMs: Schema.Finite,
});

/** The event store repaired its log: a torn tail truncated or a corrupt file quarantined (I7). */
export const LogRepaired = Schema.Struct({
  ...envelope,
  type: Schema.Literal("log.repaired"),
  reason: Schema.Literals(["torn-tail", "corrupt"]),
  droppedBytes: Schema.Int,
  quarantinedTo: Schema.optionalKey(Schema.String),
});

/** Every account event, discriminated by `type`. */
export const AccountEvent = Schema.Union([
  CredentialsStored,
  RefreshClaimed,
  RefreshFailed,
  RefreshRejected,
  RefreshInDoubt,
  AccountRevoked,
  AccountLoggedOut,
  LockWaited,
  LogRepaired,
]);
export type AccountEvent = typeof AccountEvent.Type;
export type AccountEventType = AccountEvent["type"];

/** An event before the store numbers it. */
export type NewAccountEvent = AccountEvent extends infer E ? (E extends AccountEvent ? Omit<E, "seq"> : never) : never;

/** The schema version this build writes and reads. */
export const EVENT_SCHEMA_VERSION = 1;

export const decodeAccountEvent = Schema.decodeUnknownExit(AccountEvent);
export const encodeAccountEvent = Schema.encodeSync(AccountEvent);
