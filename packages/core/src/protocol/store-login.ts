/**
 * Storing credentials that did not come from a refresh — a login or an import — under the same rules: taken under
 * the account lock (waiting like any follower), written compare-and-set as the next generation (I2: a new login
 * never reuses a generation number, so old claims can never match it), durable before the event is recorded (I3).
 */
import { Clock, Effect } from "effect";
import { type AccountRef, accountKey } from "../account.ts";
import { type Credentials, DEFAULT_LIFETIME_SECONDS, describeCredentials, type TokenSet } from "../credentials.ts";
import { Retryable } from "../errors.ts";
import type { ProviderProfile } from "../ports/providers.ts";
import { SecretStore } from "../ports/secret-store.ts";
import { record, storeToBaton } from "./journal.ts";
import { withAccountLock } from "./lock-wait.ts";

export const storeNewCredentials = (
  account: AccountRef,
  profile: ProviderProfile,
  tokens: TokenSet,
  source: "login" | "import",
  expiresAtOverride?: number,
  /** Where imported credentials came from, recorded in the event (no secret: a tool name and a path). */
  origin?: string,
) =>
  withAccountLock(
    account,
    Effect.gen(function* () {
      const store = yield* SecretStore;
      const now = yield* Clock.currentTimeMillis;
      const current = yield* store.read(account).pipe(Effect.mapError((f) => storeToBaton(account, f)));
      const generation = (current?.generation ?? 0) + 1;
      const scope = tokens.scope ?? profile.scope;
      const next: Credentials = {
        version: 1,
        account: accountKey(account),
        generation,
        accessToken: tokens.accessToken,
        ...(tokens.refreshToken === undefined ? {} : { refreshToken: tokens.refreshToken }),
        tokenType: tokens.tokenType,
        expiresAt: expiresAtOverride ?? now + (tokens.expiresIn ?? DEFAULT_LIFETIME_SECONDS) * 1000,
        obtainedAt: now,
        ...(scope === undefined ? {} : { scope }),
        issuer: profile.issuer,
        clientId: profile.clientId,
      };
      yield* store.write(account, next, current?.generation ?? 0).pipe(
        Effect.mapError((f) =>
          f._tag === "GenerationConflict"
            ? new Retryable({
                account: accountKey(account),
                reason: "store-unavailable",
                message: "the store changed while logging in; try again",
              })
            : storeToBaton(account, f),
        ),
      );
      const summary = describeCredentials(next);
      yield* record(account, {
        type: "credentials.stored",
        generation,
        source,
        accessFp: summary.accessFp,
        ...(summary.refreshFp === undefined ? {} : { refreshFp: summary.refreshFp }),
        expiresAt: next.expiresAt,
        ...(next.scope === undefined ? {} : { scope: next.scope }),
        ...(origin === undefined ? {} : { origin }),
      });
      return next;
    }),
  );
