/**
 * The application service a host talks to: `accessToken(account)` returns a fresh access token, from the in-process
 * cache when it is fresh (step 1, no I/O), else through one in-process flight per account (step 2) running the
 * cross-process refresh protocol. `refresh(account)` forces a rotation (still under the protocol). Every credentials
 * change seen by this process is published to subscribers as a secret-free summary.
 */
import { Clock, Context, Effect, Exit, Layer, PubSub } from "effect";
import { type AccountRef, accountKey } from "../account.ts";
import { type Credentials, type CredentialsSummary, describeCredentials } from "../credentials.ts";
import type { BatonError } from "../errors.ts";
import { freshness } from "../policy.ts";
import type { ClaimStore } from "../ports/claim-store.ts";
import { EventStore } from "../ports/event-store.ts";
import { HostIdentity } from "../ports/host.ts";
import type { AccountLock } from "../ports/lock.ts";
import type { ProviderDirectory } from "../ports/providers.ts";
import type { SecretStore } from "../ports/secret-store.ts";
import type { TokenEndpoint } from "../ports/token-endpoint.ts";
import { newFlightTrace } from "./flight.ts";
import { readSecrets } from "./journal.ts";
import { refreshAccount } from "./refresh.ts";
import { RefreshSettings, RotationObserver } from "./settings.ts";
import { type Flights, singleFlight } from "./single-flight.ts";

export type ProtocolServices =
  | SecretStore
  | EventStore
  | AccountLock
  | ClaimStore
  | TokenEndpoint
  | HostIdentity
  | ProviderDirectory;

/** A secret-free notice that this process now holds a different generation of an account. */
export interface CredentialsChanged {
  readonly account: string;
  readonly summary: CredentialsSummary;
  /** "refreshed" when this process rotated it, "adopted" when it came from the store. */
  readonly how: "refreshed" | "adopted";
}

export interface TokensShape {
  readonly accessToken: (account: AccountRef) => Effect.Effect<string, BatonError>;
  readonly credentials: (account: AccountRef) => Effect.Effect<Credentials, BatonError>;
  readonly refresh: (account: AccountRef) => Effect.Effect<Credentials, BatonError>;
  /** Reads the stored credentials into the cache without refreshing (startup prefetch); `undefined` if none. */
  readonly prime: (account: AccountRef) => Effect.Effect<Credentials | undefined, BatonError>;
  /** The cached credentials, without I/O (for hosts' synchronous fast paths). */
  readonly peek: (account: AccountRef) => Credentials | undefined;
  readonly changes: PubSub.PubSub<CredentialsChanged>;
}

export class Tokens extends Context.Service<Tokens, TokensShape>()("@baton/core/Tokens") {}

export const make = Effect.gen(function* () {
  const context = yield* Effect.context<ProtocolServices>();
  const cache = new Map<string, Credentials>();
  const flights: Flights<Credentials, BatonError> = new Map();
  const changes = yield* PubSub.unbounded<CredentialsChanged>();

  /** Generations this process rotated itself (anything else it caches was adopted from the store). */
  const rotatedHere = new Set<string>();
  const observer = {
    rotated: (account: AccountRef, generation: number) => rotatedHere.add(`${accountKey(account)}#${generation}`),
  };

  const remember = (account: AccountRef, next: Credentials) =>
    Effect.gen(function* () {
      const key = accountKey(account);
      const previous = cache.get(key);
      if (
        previous !== undefined &&
        previous.generation >= next.generation &&
        previous.accessToken === next.accessToken
      ) {
        return next;
      }
      cache.set(key, next);
      const how: CredentialsChanged["how"] = rotatedHere.delete(`${key}#${next.generation}`) ? "refreshed" : "adopted";
      yield* PubSub.publish(changes, { account: key, summary: describeCredentials(next), how });
      return next;
    });

  /**
   * One flight per account in this process; later callers join it (step 2). Each flight leaves one flight note: what
   * this process did, for `replay`'s pictures (unsynced, best effort).
   */
  const flight = (account: AccountRef, force: boolean): Effect.Effect<Credentials, BatonError> => {
    const key = accountKey(account);
    return singleFlight(
      flights,
      key,
      Effect.gen(function* () {
        const trace = newFlightTrace();
        const startedAt = yield* Clock.currentTimeMillis;
        const exit = yield* Effect.exit(
          refreshAccount(account, { force, known: cache.get(key), trace }).pipe(
            Effect.flatMap((next) => remember(account, next)),
          ),
        );
        const endedAt = yield* Clock.currentTimeMillis;
        const host = yield* HostIdentity;
        const failure = Exit.isFailure(exit) ? Exit.findErrorOption(exit) : undefined;
        yield* EventStore.use((events) =>
          events.note(account, {
            v: 1,
            kind: "flight",
            host: host.host,
            pid: host.pid,
            startedAt,
            endedAt,
            outcome: Exit.isSuccess(exit) ? (trace.outcome ?? "adopted") : "gave-up",
            generation: Exit.isSuccess(exit) ? exit.value.generation : (cache.get(key)?.generation ?? 0),
            ...(trace.waitedFrom === undefined ? {} : { waitedFrom: trace.waitedFrom }),
            ...(trace.waitedUntil === undefined ? {} : { waitedUntil: trace.waitedUntil }),
            ...(trace.sentAt === undefined ? {} : { sentAt: trace.sentAt }),
            ...(trace.answeredAt === undefined ? {} : { answeredAt: trace.answeredAt }),
            ...(failure?._tag === "Some"
              ? { reason: "reason" in failure.value ? failure.value.reason : failure.value._tag }
              : {}),
          }),
        );
        return yield* exit;
      }).pipe(Effect.provideContext(context), Effect.provideService(RotationObserver, observer)) as Effect.Effect<
        Credentials,
        BatonError
      >,
    );
  };

  const credentials = (account: AccountRef): Effect.Effect<Credentials, BatonError> =>
    Effect.gen(function* () {
      const settings = yield* RefreshSettings;
      const cached = cache.get(accountKey(account));
      if (cached !== undefined) {
        const now = yield* Clock.currentTimeMillis;
        if (freshness(cached, now, settings.thresholdMs) === "fresh") return cached;
      }
      return yield* flight(account, false);
    });

  return Tokens.of({
    credentials,
    accessToken: (account) => Effect.map(credentials(account), (c) => c.accessToken),
    refresh: (account) => flight(account, true),
    prime: (account) =>
      readSecrets(account).pipe(
        Effect.flatMap((stored) => (stored === undefined ? Effect.succeed(undefined) : remember(account, stored))),
        Effect.provideContext(context),
      ),
    peek: (account) => cache.get(accountKey(account)),
    changes,
  });
});

export const layer: Layer.Layer<Tokens, never, ProtocolServices> = Layer.effect(Tokens, make);
