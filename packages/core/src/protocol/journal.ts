/**
 * Writing events: fills in `at` (from Effect's Clock), `host` and `pid` (from HostIdentity), and appends through the
 * event store. Also the mapping of store failures to the errors a host sees.
 */
import { Clock, Effect } from "effect";
import type { AccountRef } from "../account.ts";
import { accountKey } from "../account.ts";
import { LoginRequired, Retryable, type StoreFailure } from "../errors.ts";
import type { NewAccountEvent } from "../events.ts";
import type { StreamFold } from "../fold-checkpoint.ts";
import { EventStore } from "../ports/event-store.ts";
import { HostIdentity } from "../ports/host.ts";
import { SecretStore } from "../ports/secret-store.ts";

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An event as the protocol describes it: without envelope fields. */
export type EventPayload = DistributiveOmit<NewAccountEvent, "v" | "at" | "host" | "pid">;

/** The envelope of events written now: schema version, `at` (Effect's Clock), this host and process. */
const envelope = Effect.gen(function* () {
  const host = yield* HostIdentity;
  const at = yield* Clock.currentTimeMillis;
  return { v: 1, at, host: host.host, pid: host.pid } as const;
});

/** `payload` as an event written now. */
export const stamp = (payload: EventPayload) =>
  Effect.map(envelope, (stamped) => ({ ...payload, ...stamped }) as NewAccountEvent);

export const record = (account: AccountRef, ...payloads: ReadonlyArray<EventPayload>) =>
  Effect.gen(function* () {
    const events = yield* EventStore;
    const stamped = yield* envelope;
    const written = payloads.map((payload) => ({ ...payload, ...stamped }) as NewAccountEvent);
    return yield* events.append(account, written).pipe(Effect.mapError((failure) => storeToBaton(account, failure)));
  });

/** The fold of the account's stream with `thresholdMs` for a refresh under the lock (from the store's checkpoint). */
export const foldEvents = (
  account: AccountRef,
  thresholdMs: number,
): Effect.Effect<StreamFold, Retryable | LoginRequired, EventStore> =>
  EventStore.use((events) =>
    events.fold(account, thresholdMs, "refresh").pipe(Effect.mapError((failure) => storeToBaton(account, failure))),
  );

/** A store failure as a host sees it: corruption needs the user (the record was moved aside), the rest is retryable. */
export const storeToBaton = (account: AccountRef, failure: StoreFailure): Retryable | LoginRequired =>
  failure.reason === "corrupt"
    ? new LoginRequired({
        account: accountKey(account),
        reason: "no-credentials",
        message: `${failure.message}; run \`baton doctor\` for recovery, or log in again`,
      })
    : new Retryable({
        account: accountKey(account),
        reason: "store-unavailable",
        message: failure.message,
      });

export const readSecrets = (account: AccountRef) =>
  SecretStore.use((store) => store.read(account).pipe(Effect.mapError((failure) => storeToBaton(account, failure))));

export const retryable = (account: AccountRef, reason: Retryable["reason"], message: string, retryAfterMs?: number) =>
  new Retryable({
    account: accountKey(account),
    reason,
    message,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
