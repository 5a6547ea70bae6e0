/**
 * Persisting a new generation (I2, I3): compare-and-set on the generation that was presented. A conflict means another
 * writer stored a newer generation: that one is adopted. Any other failure (a full disk, a keychain that went away)
 * must not lose a rotation the server already made: the claim is marked rotated (so no process ever mistakes it for
 * an unsent one), the new credentials stay in memory, the lock stays held (so no sibling presents the old token,
 * which the server has consumed), and storing is retried with backoff for `persistRetryMs` — ten minutes for a CLI
 * process, as long as it lives for a long-running host — saying what it waits for.
 *
 * A store that can append the generation's `credentials.stored` event in the same transaction as the write
 * (`SecretStore.writeRecorded`, a database) is given the event to do so; `recorded` then says the caller must not
 * append it again.
 */
import { Effect } from "effect";
import { type AccountRef, accountKey } from "../account.ts";
import type { Credentials } from "../credentials.ts";
import { Retryable } from "../errors.ts";
import { backoffDelay } from "../policy.ts";
import { ClaimStore } from "../ports/claim-store.ts";
import { SecretStore } from "../ports/secret-store.ts";
import { type EventPayload, stamp } from "./journal.ts";
import { monotonicMillis } from "./lock-wait.ts";
import { RefreshSettings } from "./settings.ts";

/** How often a process still trying to store says so. */
const REPORT_EVERY_MS = 30_000;

export const persistNext = Effect.fnUntraced(function* (
  account: AccountRef,
  current: Credentials,
  next: Credentials,
  attempt: number,
  /** The `credentials.stored` event of `next`, for a store that records it in the same transaction. */
  event?: EventPayload,
) {
  const store = yield* SecretStore;
  const { writeRecorded } = store;
  const write =
    writeRecorded === undefined || event === undefined
      ? Effect.as(store.write(account, next, current.generation), false)
      : stamp(event).pipe(
          Effect.flatMap((stamped) => writeRecorded(account, next, current.generation, stamped)),
          Effect.as(true),
        );
  const claims = yield* ClaimStore;
  const settings = yield* RefreshSettings;
  const key = accountKey(account);
  const start = yield* monotonicMillis;
  let tries = 0;
  let reportedAt: number | undefined;
  while (true) {
    tries += 1;
    const outcome = yield* Effect.result(write);
    if (outcome._tag === "Success") {
      if (reportedAt !== undefined) yield* Effect.logWarning(`${key}: generation ${next.generation} is stored now`);
      return { credentials: next, recorded: outcome.success };
    }
    const failure = outcome.failure;
    if (failure._tag === "GenerationConflict") {
      const stored = yield* Effect.orElseSucceed(store.read(account), () => undefined);
      if (stored !== undefined && stored.generation > current.generation)
        return { credentials: stored, recorded: false };
    }
    const problem = failure._tag === "GenerationConflict" ? "a generation conflict" : failure.message;
    if (tries === 1) yield* claims.markRotated(account, current.generation, attempt).pipe(Effect.ignore);
    const now = yield* monotonicMillis;
    if (now - start >= settings.persistRetryMs) {
      return yield* new Retryable({
        account: key,
        reason: "persist-failed",
        message:
          `the provider rotated ${key} but the new credentials could not be stored for ` +
          `${Math.round((now - start) / 1000)} s (${problem}); they are lost with this process and \`baton login ${key}\` ` +
          "will be needed; nothing was deleted",
      });
    }
    if (reportedAt === undefined || now - reportedAt >= REPORT_EVERY_MS) {
      reportedAt = now;
      const bound = Number.isFinite(settings.persistRetryMs)
        ? ` for up to ${Math.round((settings.persistRetryMs - (now - start)) / 1000)} s more`
        : "";
      yield* Effect.logWarning(
        `${key}: the provider rotated the refresh token, but storing generation ${next.generation} failed ` +
          `(${problem}); keeping it in memory, holding the lock and retrying${bound} — free the space or fix the store`,
      );
    }
    yield* Effect.sleep(backoffDelay(tries, 0.5, undefined, 50, 2_000));
  }
});
