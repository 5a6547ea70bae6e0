/**
 * Deliberately broken protocols, for the property tests only: each one breaks one rule the refresh protocol relies
 * on, by wrapping a port the protocol uses (the protocol itself has no switches), so the tests can show that they
 * catch each mistake — a test that cannot fail proves nothing.
 *
 * - `no-claim`: presents without the exclusive claim (the claim store grants every request);
 * - `no-reread`: decides from the first read of the store (never re-reads, under the lock or while waiting);
 * - `blank-on-invalid-grant`: deletes the credentials when the server answers `invalid_grant`;
 * - `revoke-without-reread`: after `invalid_grant`, judges from the record read before the request (a sibling's
 *   newer generation is missed and the account is declared revoked);
 * - `blind-write`: a secret store without compare-and-set (a write replaces whatever is stored).
 */

import { Effect, Layer } from "effect";
import {
  type AccountRef,
  accountKey,
  ClaimStore,
  type ClaimStoreShape,
  type Credentials,
  Memory,
  SecretStore,
  type SecretStoreShape,
  TokenEndpoint,
  type TokenEndpointShape,
  type Tokens,
} from "../../src/index.ts";

export type Mutation = "no-claim" | "no-reread" | "blank-on-invalid-grant" | "revoke-without-reread" | "blind-write";

type TokensLayer = Layer.Layer<Tokens.Tokens, never, Tokens.ProtocolServices>;

const grantEverything = (claims: ClaimStoreShape): ClaimStoreShape => {
  let attempts = 0;
  return {
    ...claims,
    acquire: (account, generation, request) =>
      Effect.gen(function* () {
        attempts += 1;
        // A fresh attempt number each time, so even the exclusive create never stops anyone.
        const attempt = 1000 * request.claimant.pid + attempts;
        yield* claims.retry(account, generation, attempt, request);
        return { _tag: "Granted", attempt } as const;
      }),
  };
};

const firstReadForever = (secrets: SecretStoreShape): SecretStoreShape => {
  const first = new Map<string, Credentials | undefined>();
  return {
    ...secrets,
    read: (account) =>
      Effect.gen(function* () {
        const key = accountKey(account);
        if (first.has(key)) return first.get(key);
        const read = yield* secrets.read(account);
        first.set(key, read);
        return read;
      }),
    write: (account, next, expected) =>
      Effect.tap(secrets.write(account, next, expected), () => Effect.sync(() => first.set(accountKey(account), next))),
  };
};

/** `blank-on-invalid-grant` and `revoke-without-reread` react to the endpoint's answer through the secret store. */
const afterInvalidGrant = (
  endpoint: TokenEndpointShape,
  onInvalidGrant: (account: AccountRef) => Effect.Effect<void>,
): TokenEndpointShape => ({
  ...endpoint,
  refresh: (request) =>
    endpoint
      .refresh(request)
      .pipe(
        Effect.tapError((failure) =>
          failure.reason === "invalid_grant" ? onInvalidGrant(request.account) : Effect.void,
        ),
      ),
});

/** The Tokens layer of simulated process `pid` with `mutation` applied to the ports it sees. */
export const mutate = (
  layer: TokensLayer,
  mutation: Mutation | undefined,
  world: Memory.MemoryWorld,
  pid: number,
): TokensLayer => {
  switch (mutation) {
    case undefined:
      return layer;
    case "no-claim":
      return layer.pipe(Layer.updateService(ClaimStore, grantEverything));
    case "no-reread":
      return layer.pipe(Layer.updateService(SecretStore, firstReadForever));
    case "blind-write":
      return layer.pipe(
        Layer.updateService(SecretStore, (secrets) => ({
          ...secrets,
          // Without compare-and-set: whatever is stored is replaced.
          write: (account, next) =>
            Effect.sync(() => {
              const key = accountKey(account);
              world.secrets.set(key, next);
              world.secretWrites.push({ account: key, generation: next.generation, pid });
              Memory.notifyChange(world);
            }),
        })),
      );
    case "blank-on-invalid-grant": {
      let secretsOf: SecretStoreShape | undefined;
      return layer.pipe(
        Layer.updateService(TokenEndpoint, (endpoint) =>
          afterInvalidGrant(endpoint, (account) =>
            secretsOf === undefined ? Effect.void : Effect.ignore(secretsOf.remove(account)),
          ),
        ),
        Layer.updateService(SecretStore, (secrets) => {
          secretsOf = secrets;
          return secrets;
        }),
      );
    }
    case "revoke-without-reread": {
      const before = new Map<string, Credentials | undefined>();
      const stale = new Set<string>();
      return layer.pipe(
        Layer.updateService(TokenEndpoint, (endpoint) => ({
          ...afterInvalidGrant(endpoint, (account) => Effect.sync(() => stale.add(accountKey(account)))),
        })),
        Layer.updateService(SecretStore, (secrets) => ({
          ...secrets,
          read: (account) =>
            Effect.gen(function* () {
              const key = accountKey(account);
              if (stale.delete(key)) return before.get(key);
              const read = yield* secrets.read(account);
              before.set(key, read);
              return read;
            }),
        })),
      );
    }
  }
};
