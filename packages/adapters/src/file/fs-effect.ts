/**
 * The file primitives as Effects: the mapping of what they throw to `StoreFailure` (ENOSPC/EDQUOT → `no-space`,
 * EACCES/EPERM/ELOOP → `permission`, else `io`), {@link runFs} and {@link runFsSync}, which run a body and log the
 * warnings it collected, and {@link withMutex}, which serializes work on one path within the process.
 */
import { StoreFailure } from "@baton/core";
import { Effect, Semaphore } from "effect";
import { errorCode, FsProblem, type Warn } from "./fs-base.ts";

/** Maps anything thrown by the primitives to a `StoreFailure` that names the path and the problem. */
export const toStoreFailure = (error: unknown, action: string, path: string): StoreFailure => {
  if (error instanceof FsProblem)
    return new StoreFailure({ reason: error.reason, message: error.message, path: error.path });
  const code = errorCode(error);
  const reason: StoreFailure["reason"] =
    code === "ENOSPC" || code === "EDQUOT"
      ? "no-space"
      : code === "EACCES" || code === "EPERM" || code === "ELOOP"
        ? "permission"
        : "io";
  const detail =
    code === "ENOSPC" || code === "EDQUOT"
      ? `${code}: no space left on the device`
      : code === "ELOOP"
        ? "it is a symbolic link; refusing to follow it"
        : (code ?? (error instanceof Error ? error.message : String(error)));
  return new StoreFailure({ reason, message: `could not ${action} ${path} (${detail})`, path });
};

/** Runs an async file-system body as an Effect: errors become `StoreFailure`, collected warnings are logged. */
export const runFs = <A>(
  action: string,
  path: string,
  body: (warn: Warn) => Promise<A>,
): Effect.Effect<A, StoreFailure> =>
  Effect.suspend(() => {
    const warnings: Array<string> = [];
    return Effect.tryPromise({
      try: () => body((message) => warnings.push(message)),
      catch: (error) => toStoreFailure(error, action, path),
    }).pipe(
      Effect.ensuring(Effect.suspend(() => Effect.forEach(warnings, (w) => Effect.logWarning(w), { discard: true }))),
    );
  });

/**
 * {@link runFs} for a synchronous body (reads of small local files, see secure-read.ts): no promise and no fiber
 * suspension on the way, which is most of the CPU of such a read.
 */
export const runFsSync = <A>(action: string, path: string, body: (warn: Warn) => A): Effect.Effect<A, StoreFailure> =>
  Effect.suspend(() => {
    const warnings: Array<string> = [];
    let result: Effect.Effect<A, StoreFailure>;
    try {
      result = Effect.succeed(body((message) => warnings.push(message)));
    } catch (error) {
      result = Effect.fail(toStoreFailure(error, action, path));
    }
    return warnings.length === 0
      ? result
      : Effect.forEach(warnings, (w) => Effect.logWarning(w), { discard: true }).pipe(Effect.andThen(result));
  });

const mutexes = new Map<string, Semaphore.Semaphore>();

/** Serializes effects on one key (an absolute path) within this process, across layer instances. */
export const withMutex =
  (key: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.suspend(() => {
      let mutex = mutexes.get(key);
      if (mutex === undefined) {
        mutex = Semaphore.makeUnsafe(1);
        mutexes.set(key, mutex);
      }
      return mutex.withPermits(1)(effect);
    });
