/**
 * Storing credentials that did not come from a refresh — a login or an import — under the same rules: taken under
 * the account lock (waiting like any follower), written compare-and-set as the next generation (I2), durable before
 * the event is recorded (I3).
 *
 * Generations are monotonic for the account's whole life: the next one is above everything the account ever had —
 * the stored record, the event stream (which outlives a logout) and the claims — so a claim of an earlier life can
 * never match a later one, whichever secret store holds the record.
 *
 * An import may not bring back a refresh token the account already had (an old export, a copied file): presenting
 * it again would look like theft to the provider, which revokes the whole family. Such an import is refused, naming
 * the generation the token belonged to.
 */
import { Clock, Effect } from "effect";
import { type AccountRef, accountKey } from "../account.ts";
import { type Credentials, DEFAULT_LIFETIME_SECONDS, describeCredentials, type TokenSet } from "../credentials.ts";
import { InvalidInput, Retryable } from "../errors.ts";
import type { AccountEvent } from "../events.ts";
import { fingerprint } from "../fingerprint.ts";
import { ClaimStore } from "../ports/claim-store.ts";
import { EventStore } from "../ports/event-store.ts";
import type { ProviderProfile } from "../ports/providers.ts";
import { SecretStore } from "../ports/secret-store.ts";
import { type EventPayload, foldEvents, record, stamp, storeToBaton } from "./journal.ts";
import { withAccountLock } from "./lock-wait.ts";
import { RefreshSettings } from "./settings.ts";

export interface StoreOptions {
  /** Milliseconds since the epoch at which the access token expires, when the source says so directly. */
  readonly expiresAt?: number;
  /** Where imported credentials came from (a format or another tool), for the record. */
  readonly origin?: string;
}

/** Every refresh-token fingerprint the account ever stored or presented, with the generation it belonged to. */
export const knownRefreshTokens = (events: ReadonlyArray<AccountEvent>): ReadonlyMap<string, number> => {
  const known = new Map<string, number>();
  for (const event of events) {
    if ((event.type === "credentials.stored" || event.type === "refresh.claimed") && event.refreshFp !== undefined) {
      if (!known.has(event.refreshFp)) known.set(event.refreshFp, event.generation);
    }
  }
  return known;
};

export const storeNewCredentials = (
  account: AccountRef,
  profile: ProviderProfile,
  tokens: TokenSet,
  source: "login" | "import",
  options: StoreOptions = {},
) =>
  withAccountLock(
    account,
    Effect.gen(function* () {
      const store = yield* SecretStore;
      const claims = yield* ClaimStore;
      const settings = yield* RefreshSettings;
      const key = accountKey(account);
      const toBaton = (f: Parameters<typeof storeToBaton>[1]) => storeToBaton(account, f);
      const now = yield* Clock.currentTimeMillis;
      const current = yield* store.read(account).pipe(Effect.mapError(toBaton));
      if (source === "import" && tokens.refreshToken !== undefined) {
        const events = yield* EventStore.use((e) => e.read(account)).pipe(Effect.mapError(toBaton));
        const seenIn = knownRefreshTokens(events).get(fingerprint(tokens.refreshToken));
        if (seenIn !== undefined) {
          return yield* new InvalidInput({
            reason: "import",
            message:
              seenIn === current?.generation
                ? `this refresh token is already ${key}'s current one (generation ${seenIn}); nothing to import`
                : `this refresh token was ${key}'s generation ${seenIn} and has been used since; presenting it again ` +
                  "would make the provider revoke the whole login. Export the current credentials instead " +
                  `(\`baton export ${key}\`), or log in again`,
          });
        }
      }
      const folded = yield* foldEvents(account, settings.thresholdMs);
      const claimed = yield* claims.highest(account).pipe(Effect.mapError(toBaton));
      const generation = Math.max(current?.generation ?? 0, folded.snapshot.context.generation, claimed) + 1;
      const scope = tokens.scope ?? profile.scope;
      const next: Credentials = {
        version: 1,
        account: key,
        generation,
        accessToken: tokens.accessToken,
        ...(tokens.refreshToken === undefined ? {} : { refreshToken: tokens.refreshToken }),
        tokenType: tokens.tokenType,
        expiresAt: options.expiresAt ?? now + (tokens.expiresIn ?? DEFAULT_LIFETIME_SECONDS) * 1000,
        obtainedAt: now,
        ...(scope === undefined ? {} : { scope }),
        issuer: profile.issuer,
        clientId: profile.clientId,
      };
      const summary = describeCredentials(next);
      const event: EventPayload = {
        type: "credentials.stored",
        generation,
        source,
        accessFp: summary.accessFp,
        ...(summary.refreshFp === undefined ? {} : { refreshFp: summary.refreshFp }),
        expiresAt: next.expiresAt,
        ...(next.scope === undefined ? {} : { scope: next.scope }),
        ...(tokens.identity === undefined ? {} : { identity: tokens.identity }),
        ...(tokens.clockSkewMs === undefined ? {} : { clockSkewMs: tokens.clockSkewMs }),
        ...(options.origin === undefined ? {} : { origin: options.origin }),
      };
      const { writeRecorded } = store;
      // One transaction for the secret and its event where the store can (a database), else the write, then the event.
      const write =
        writeRecorded === undefined
          ? Effect.as(store.write(account, next, current?.generation ?? 0), false)
          : stamp(event).pipe(
              Effect.flatMap((stamped) => writeRecorded(account, next, current?.generation ?? 0, stamped)),
              Effect.as(true),
            );
      const recorded = yield* write.pipe(
        Effect.mapError((f) =>
          f._tag === "GenerationConflict"
            ? new Retryable({
                account: key,
                reason: "store-unavailable",
                message: "the store changed while logging in; try again",
              })
            : toBaton(f),
        ),
      );
      if (!recorded) yield* record(account, event);
      return next;
    }),
  );
