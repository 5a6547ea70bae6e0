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

/** Who the tokens belong to, from a validated ID token at login (not secret). */
const Identity = Schema.Struct({
  subject: Schema.optionalKey(Schema.String),
  email: Schema.optionalKey(Schema.String),
  name: Schema.optionalKey(Schema.String),
});

/**
 * New credentials were durably stored (after a login, a refresh or an import). `problems` are secret-free notes
 * about an answer that was stored anyway (the rotation had happened); `clockSkewMs` is this machine's clock minus the
 * server's when measured; `origin` names where imported credentials came from (a file format, another tool).
 */
export const CredentialsStored = Schema.Struct({
  ...envelope,
  type: Schema.Literal("credentials.stored"),
  generation: Generation,
  source: Schema.Literals(["login", "refresh", "import"]),
  accessFp: Fingerprint,
  refreshFp: Schema.optionalKey(Fingerprint),
  expiresAt: Schema.Finite,
  scope: Schema.optionalKey(Schema.String),
  identity: Schema.optionalKey(Identity),
  clockSkewMs: Schema.optionalKey(Schema.Finite),
  problems: Schema.optionalKey(Schema.Array(Schema.String)),
  /** For an import: where the credentials came from (`claude-code ~/.claude/.credentials.json`, `baton-export`…). */
  origin: Schema.optionalKey(Schema.String),
});

/**
 * The exclusive right to present generation `generation` was taken (attempt 1; a later attempt only after the
 * previous one was released as not processed, or as the one retry of an in-doubt attempt). `refreshFp` is the
 * fingerprint of the refresh token presented: two claims with the same one are a reuse (replay flags it).
 */
export const RefreshClaimed = Schema.Struct({
  ...envelope,
  type: Schema.Literal("refresh.claimed"),
  generation: Generation,
  attempt: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  refreshFp: Schema.optionalKey(Fingerprint),
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

/**
 * An in-doubt attempt was resolved: the provider's introspection endpoint (RFC 7662) said the presented refresh token
 * is still active (`not-rotated`: it may be presented once more) or no longer active (`rotated`: the answer is lost).
 */
export const RefreshResolved = Schema.Struct({
  ...envelope,
  type: Schema.Literal("refresh.resolved"),
  generation: Generation,
  attempt: Schema.Int,
  outcome: Schema.Literals(["not-rotated", "rotated"]),
  via: Schema.Literal("introspection"),
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

/**
 * The credentials were exported. The copy shares one token family with the original; with `moved` the local copy was
 * removed afterwards (the login was handed over), which leaves the account unauthenticated here.
 */
export const AccountExported = Schema.Struct({
  ...envelope,
  type: Schema.Literal("account.exported"),
  generation: Generation,
  moved: Schema.Boolean,
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
  RefreshResolved,
  AccountRevoked,
  AccountLoggedOut,
  AccountExported,
  LockWaited,
  LogRepaired,
]);
export type AccountEvent = typeof AccountEvent.Type;
export type AccountEventType = AccountEvent["type"];

/** An event before the store numbers it. */
export type NewAccountEvent = AccountEvent extends infer E ? (E extends AccountEvent ? Omit<E, "seq"> : never) : never;

/** The schema version this build writes and reads; a record with a higher `v` was written by a newer baton. */
export const EVENT_SCHEMA_VERSION = 1;

export const decodeAccountEvent = Schema.decodeUnknownExit(AccountEvent);
export const encodeAccountEvent = Schema.encodeSync(AccountEvent);

/**
 * What one process did in one refresh flight (a diagnostic, not a protocol record; see `EventStore.note`): when it
 * needed a token and when it had one (or gave up), whether and how long it waited for another process, and how it
 * ended — `refreshed` (it presented and stored the next generation), `adopted` (a newer generation appeared in the
 * store), `served` (it kept a still-valid token while another process refreshed), `gave-up` (an error; `reason` says
 * which). `host` and `pid` name the lane in `replay --trace` / `--html`.
 */
export const FlightNote = Schema.Struct({
  v: Schema.Literal(1),
  kind: Schema.Literal("flight"),
  host: Schema.String,
  pid: Schema.Int,
  startedAt: Schema.Finite,
  endedAt: Schema.Finite,
  outcome: Schema.Literals(["refreshed", "adopted", "served", "gave-up"]),
  generation: Schema.Int,
  waitedFrom: Schema.optionalKey(Schema.Finite),
  waitedUntil: Schema.optionalKey(Schema.Finite),
  /** When this process's refresh request left and when it ended (an answer or a failure), if it presented. */
  sentAt: Schema.optionalKey(Schema.Finite),
  answeredAt: Schema.optionalKey(Schema.Finite),
  reason: Schema.optionalKey(Schema.String),
});
export type FlightNote = typeof FlightNote.Type;

/**
 * An access token lent out by a broker (`baton serve`) to one of its clients: who got which token (fingerprint only)
 * of which generation, and when it expires — so `replay` can show who borrowed what. A diagnostic like the flight
 * notes (unsynced): the broker's hand-outs are frequent, and nothing depends on them for safety.
 */
export const HandOutNote = Schema.Struct({
  v: Schema.Literal(1),
  kind: Schema.Literal("hand-out"),
  host: Schema.String,
  pid: Schema.Int,
  at: Schema.Finite,
  client: Schema.String,
  generation: Schema.Int,
  accessFp: Fingerprint,
  expiresAt: Schema.Finite,
});
export type HandOutNote = typeof HandOutNote.Type;

/** The diagnostic notes kept beside an account's stream (see `EventStore.note`). */
export const DiagnosticNote = Schema.Union([FlightNote, HandOutNote]);
export type DiagnosticNote = typeof DiagnosticNote.Type;

export const decodeDiagnosticNote = Schema.decodeUnknownExit(DiagnosticNote);
