/**
 * Checkpoints of the lifecycle fold (event-sourcing snapshots). Folding a whole stream costs a few microseconds per
 * event, and every `baton status` and every refresh under the lock folds it: a year of hourly rotations is ~26,000
 * events. A store may therefore keep, beside a stream, the fold of a prefix of it — the machine's persisted snapshot,
 * how many events it covers and the threshold it was folded with — and resume from there: restore the snapshot, fold
 * only the events after the prefix. A checkpoint is a cache: the store must prove it still describes the stream's
 * current prefix (e.g. a checksum of the prefix's bytes) and fall back to the whole stream when anything disagrees;
 * a resumed fold equals the full {@link replay} (the property tests check it).
 *
 * This module owns what the checkpoint holds and how it is checked: {@link persistFold} gives a JSON-safe value,
 * {@link restoreFold} validates one read back (schema of the context, a state a fold can stop in, the machine's
 * definition unchanged since it was written) and returns `undefined` for anything else.
 */
import { Exit, Schema } from "effect";
import type { AccountEvent } from "./events.ts";
import { type LifecycleContext, type LifecycleSnapshot, lifecycleMachine } from "./lifecycle.ts";
import { replay } from "./replay.ts";

/** The fold of a whole stream (not evaluated at any "now") and the number of events it covers. */
export interface StreamFold {
  readonly snapshot: LifecycleSnapshot;
  readonly events: number;
}

/** What a store persists for a checkpoint (plus its own proof of the prefix it covers). */
export interface PersistedFold {
  /** {@link foldFormat}: the checkpoint is ignored when the machine changed since it was written. */
  readonly format: string;
  readonly thresholdMs: number;
  /** How many events of the stream the snapshot covers. */
  readonly events: number;
  readonly value: unknown;
  readonly context: unknown;
}

/** Bump when a guard or an action of the machine changes meaning (its definition is fingerprinted anyway). */
const FOLD_VERSION = 1;

/** FNV-1a, 32 bits: a fingerprint of the machine's definition, not a security measure (core has no crypto). */
const fnv1a = (text: string): string => {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
};

let format: string | undefined;
/** The version of the fold a checkpoint was written by: {@link FOLD_VERSION} and a hash of the machine's definition. */
export const foldFormat = (): string => {
  format ??= `${FOLD_VERSION}.${fnv1a(JSON.stringify(lifecycleMachine.definition))}`;
  return format;
};

const Claim = Schema.Struct({
  generation: Schema.Int,
  attempt: Schema.Int,
  host: Schema.String,
  pid: Schema.Int,
  at: Schema.Finite,
});

/** The machine's context as JSON keeps it (`undefined` fields are absent). */
const PersistedContext = Schema.Struct({
  thresholdMs: Schema.Finite,
  now: Schema.Finite,
  generation: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  accessFp: Schema.optionalKey(Schema.String),
  refreshFp: Schema.optionalKey(Schema.String),
  obtainedAt: Schema.Finite,
  expiresAt: Schema.Finite,
  scope: Schema.optionalKey(Schema.String),
  lastRefreshAt: Schema.optionalKey(Schema.Finite),
  lastError: Schema.optionalKey(Schema.Struct({ reason: Schema.String, at: Schema.Finite })),
  claim: Schema.optionalKey(Claim),
  inDoubt: Schema.optionalKey(Claim),
  revokedReason: Schema.optionalKey(Schema.Literals(["invalid_grant", "in-doubt"])),
  failures: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  retryAt: Schema.optionalKey(Schema.Finite),
  identity: Schema.optionalKey(
    Schema.Struct({
      subject: Schema.optionalKey(Schema.String),
      email: Schema.optionalKey(Schema.String),
      name: Schema.optionalKey(Schema.String),
    }),
  ),
  clockSkewMs: Schema.optionalKey(Schema.Finite),
  lastSeq: Schema.Int,
});
const decodeContext = Schema.decodeUnknownExit(PersistedContext);

/** The state values a fold can stop in; anything else is refused rather than resolved by the machine. */
const StableValue = Schema.Union([
  Schema.Literals(["unauthenticated", "refreshing", "inDoubt", "revoked"]),
  Schema.Struct({ active: Schema.Literals(["valid", "expiring", "expired"]) }),
]);
const decodeValue = Schema.decodeUnknownExit(StableValue);

/** A JSON-safe checkpoint of `fold`, folded with `thresholdMs`. */
export const persistFold = (fold: StreamFold): PersistedFold => ({
  format: foldFormat(),
  thresholdMs: fold.snapshot.context.thresholdMs,
  events: fold.events,
  value: fold.snapshot.value,
  context: fold.snapshot.context,
});

/**
 * The fold a checkpoint read back describes, when it is one this build wrote with `thresholdMs`; `undefined` for
 * anything else (another format, another threshold, a context that does not decode, a state the machine lacks).
 */
export const restoreFold = (persisted: unknown, thresholdMs: number): StreamFold | undefined => {
  if (typeof persisted !== "object" || persisted === null) return undefined;
  const candidate = persisted as Partial<Record<keyof PersistedFold, unknown>>;
  if (candidate.format !== foldFormat() || candidate.thresholdMs !== thresholdMs) return undefined;
  const { events } = candidate;
  if (typeof events !== "number" || !Number.isSafeInteger(events) || events < 0) return undefined;
  const context = decodeContext(candidate.context);
  if (!Exit.isSuccess(context) || context.value.thresholdMs !== thresholdMs) return undefined;
  const value = decodeValue(candidate.value);
  if (!Exit.isSuccess(value)) return undefined;
  const c = context.value;
  const restored: LifecycleContext = {
    ...c,
    accessFp: c.accessFp,
    refreshFp: c.refreshFp,
    scope: c.scope,
    lastRefreshAt: c.lastRefreshAt,
    lastError: c.lastError,
    claim: c.claim,
    inDoubt: c.inDoubt,
    revokedReason: c.revokedReason,
    retryAt: c.retryAt,
    identity: c.identity,
    clockSkewMs: c.clockSkewMs,
  };
  try {
    const snapshot = lifecycleMachine.resolveState({
      value: value.value,
      context: restored,
    });
    return { snapshot, events };
  } catch {
    return undefined;
  }
};

/** Resumes `fold` over the events after it (the whole fold when `from` is undefined). */
export const resumeFold = (
  from: StreamFold | undefined,
  events: ReadonlyArray<AccountEvent>,
  thresholdMs: number,
): StreamFold => ({
  snapshot: replay(events, from === undefined ? { thresholdMs } : { from: from.snapshot }),
  events: (from?.events ?? 0) + events.length,
});
