/**
 * One run at a time per key in this process: the first caller for a key starts `work`, callers that come while it runs
 * wait for the same outcome instead of starting their own. The protocol's `Tokens` runs one refresh flight per account
 * this way (step 2), and a thin client one request to its broker per account.
 */
import { Deferred, Effect } from "effect";

/** The runs in progress, by key. */
export type Flights<A, E> = Map<string, Deferred.Deferred<A, E>>;

/** `work` for `key`, or the outcome of the run of `key` already in progress in `flights`. */
export const singleFlight = <A, E>(
  flights: Flights<A, E>,
  key: string,
  work: Effect.Effect<A, E>,
): Effect.Effect<A, E> =>
  Effect.suspend(() => {
    const running = flights.get(key);
    if (running !== undefined) return Deferred.await(running);
    const deferred = Deferred.makeUnsafe<A, E>();
    flights.set(key, deferred);
    return work.pipe(
      Effect.onExit((exit) =>
        Effect.sync(() => {
          flights.delete(key);
          Deferred.doneUnsafe(deferred, exit);
        }),
      ),
    );
  });
