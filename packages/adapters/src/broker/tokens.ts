/**
 * The `Tokens` service of a thin client: access tokens borrowed from a broker instead of refreshed here. The client
 * holds no refresh token and writes nothing: a hand-out lives in this process's memory only, answered from there
 * while it is fresh by the same policy as the protocol's cache (policy.ts), with one request per account in flight at
 * a time. `refresh` (forcing a rotation) is the broker's host's business and is refused; the broker refreshes ahead of
 * expiry by itself.
 *
 * With several brokers (BATON_SERVER's list, request.ts), each hand-out names the broker that lent it as its issuer.
 *
 * A hand-out's times come from the broker's clock; the expiry kept here is this machine's receipt time plus
 * `expires_in`, so a skewed client clock cannot make an expired token look fresh.
 */
import {
  type AccountRef,
  accountKey,
  type BatonError,
  type Credentials,
  describeCredentials,
  type Flights,
  freshness,
  InvalidInput,
  LoginRequired,
  RefreshSettings,
  singleFlight,
  Tokens,
} from "@baton/core";
import { Clock, Effect, Layer, PubSub } from "effect";
import { handOutFrom } from "./client.ts";
import { type BrokerConnection, brokersDisplay } from "./request.ts";
import type { HandOut } from "./wire.ts";

/** A hand-out as the core's credentials: no refresh token; issuer and client name the broker that lent it. */
export const handOutCredentials = (answer: HandOut, receivedAt: number, broker: string): Credentials => {
  const lifetime = Math.max(0, Date.parse(answer.expires_at) - Date.parse(answer.obtained_at));
  const expiresAt = receivedAt + answer.expires_in * 1000;
  return {
    version: 1,
    account: answer.account,
    generation: Math.max(1, answer.generation),
    accessToken: answer.access_token,
    tokenType: answer.token_type,
    expiresAt,
    obtainedAt: expiresAt - lifetime,
    ...(answer.scope === null ? {} : { scope: answer.scope }),
    issuer: broker,
    clientId: "baton-broker",
  };
};

export const make = (connection: BrokerConnection) =>
  Effect.gen(function* () {
    const cache = new Map<string, Credentials>();
    const flights: Flights<Credentials, BatonError> = new Map();
    const changes = yield* PubSub.unbounded<Tokens.CredentialsChanged>();

    const remember = (key: string, next: Credentials) =>
      Effect.gen(function* () {
        const previous = cache.get(key);
        cache.set(key, next);
        if (previous?.accessToken !== next.accessToken) {
          yield* PubSub.publish(changes, { account: key, summary: describeCredentials(next), how: "adopted" as const });
        }
        return next;
      });

    /** One request per account in this process at a time; later callers join it. */
    const borrow = (account: AccountRef): Effect.Effect<Credentials, BatonError> => {
      const key = accountKey(account);
      return singleFlight(
        flights,
        key,
        Effect.gen(function* () {
          const lent = yield* handOutFrom(connection, { account: key });
          const receivedAt = yield* Clock.currentTimeMillis;
          return yield* remember(key, handOutCredentials(lent.handOut, receivedAt, lent.from));
        }),
      );
    };

    const credentials = (account: AccountRef): Effect.Effect<Credentials, BatonError> =>
      Effect.gen(function* () {
        const cached = cache.get(accountKey(account));
        if (cached !== undefined) {
          const settings = yield* RefreshSettings;
          const now = yield* Clock.currentTimeMillis;
          if (freshness(cached, now, settings.thresholdMs) === "fresh") return cached;
        }
        return yield* borrow(account);
      });

    /** The broker that lent `account`'s token (its credentials' issuer), else the connection's. */
    const brokerOf = (account: AccountRef): string => {
      const lender = cache.get(accountKey(account))?.issuer;
      if (lender !== undefined) return `the broker at ${lender}`;
      return connection.brokers.length === 1
        ? `the broker at ${brokersDisplay(connection)}`
        : `the brokers at ${brokersDisplay(connection)}`;
    };

    return Tokens.Tokens.of({
      credentials,
      accessToken: (account) => Effect.map(credentials(account), (c) => c.accessToken),
      refresh: (account) =>
        Effect.fail(
          new InvalidInput({
            reason: "argument",
            message: `${accountKey(account)} is refreshed by ${brokerOf(account)}, ahead of its expiry; a forced refresh runs on the broker's host`,
          }),
        ),
      prime: (account) =>
        credentials(account).pipe(
          Effect.catchIf(
            (error): error is LoginRequired => error instanceof LoginRequired && error.reason === "no-credentials",
            () => Effect.succeed(undefined),
          ),
        ),
      peek: (account) => cache.get(accountKey(account)),
      changes,
    });
  });

/** `Tokens` over the broker `connection`. */
export const layer = (connection: BrokerConnection): Layer.Layer<Tokens.Tokens> =>
  Layer.effect(Tokens.Tokens, make(connection));
