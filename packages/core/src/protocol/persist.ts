/**
 * Persisting a new generation (I2, I3): compare-and-set on the generation that was presented, retried with backoff
 * while the lock is held and the new credentials are kept in memory — a full disk must not lose a rotation that the
 * server already made. A conflict means another writer stored a newer generation: that one is adopted.
 */
import { Clock, Effect } from "effect";
import { type AccountRef, accountKey } from "../account.ts";
import type { Credentials } from "../credentials.ts";
import { Retryable } from "../errors.ts";
import { backoffDelay } from "../policy.ts";
import { SecretStore } from "../ports/secret-store.ts";
import { RefreshSettings } from "./settings.ts";

export const persistNext = Effect.fnUntraced(function* (account: AccountRef, current: Credentials, next: Credentials) {
  const store = yield* SecretStore;
  const settings = yield* RefreshSettings;
  const start = yield* Clock.currentTimeMillis;
  let attempt = 0;
  while (true) {
    attempt += 1;
    const outcome = yield* Effect.result(store.write(account, next, current.generation));
    if (outcome._tag === "Success") return next;
    const failure = outcome.failure;
    if (failure._tag === "GenerationConflict") {
      const stored = yield* Effect.orElseSucceed(store.read(account), () => undefined);
      if (stored !== undefined && stored.generation > current.generation) return stored;
    }
    const now = yield* Clock.currentTimeMillis;
    if (now - start >= settings.persistRetryMs) {
      return yield* new Retryable({
        account: accountKey(account),
        reason: "persist-failed",
        message: `could not store the new credentials of ${accountKey(account)} (${failure._tag === "GenerationConflict" ? "generation conflict" : failure.message}); nothing was deleted`,
      });
    }
    yield* Effect.logWarning(
      `storing ${accountKey(account)} generation ${next.generation} failed (${failure._tag === "GenerationConflict" ? "conflict" : failure.reason}); retrying`,
    );
    yield* Effect.sleep(backoffDelay(attempt, 0.5, undefined, 50, 2_000));
  }
});
