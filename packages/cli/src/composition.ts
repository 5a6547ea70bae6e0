/**
 * The composition root: the only place that wires adapters to the core's ports. Every command gets its services
 * from here, so the CLI, the demo's child processes and the tests all run the same wiring over one BATON_HOME.
 */

import {
  FileClaimStore,
  FileEventStore,
  FileLock,
  FileSessions,
  KeychainSecretStore,
  layerFileStores,
  NodeHostIdentity,
  OAuthTokenEndpoint,
  ProviderRegistry,
  resolveHome,
} from "@baton/adapters";
import { type AccountRef, InvalidInput, ProtocolHooks, type ProtocolPoint, Tokens } from "@baton/core";
import { Context, Effect, Layer, Logger, References } from "effect";
import { logLine } from "./log-line.ts";

/** Settings read once from the environment. */
export class CliEnvironment extends Context.Service<
  CliEnvironment,
  { readonly home: string; readonly debug: boolean; readonly color: boolean; readonly storage: "file" | "keychain" }
>()("@baton/cli/CliEnvironment") {}

export type Storage = "file" | "keychain";

/** BATON_STORAGE: the OS keychain unless file storage is chosen explicitly; anything else is a usage error. */
export const storageFromEnvironment = (value: string | undefined): Storage | InvalidInput =>
  value === undefined || value === "" || value === "keychain"
    ? "keychain"
    : value === "file"
      ? "file"
      : new InvalidInput({ reason: "argument", message: `BATON_STORAGE must be "keychain" or "file", not "${value}"` });

export const environmentFromProcess = () => ({
  home: resolveHome(process.env),
  debug: process.env.BATON_DEBUG === "1",
  color: process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
  storage: storageFromEnvironment(process.env.BATON_STORAGE),
});

/**
 * Secrets in the OS keychain (default) or in 0600 files (explicit choice); events, claims and the lock always live
 * in files under BATON_HOME. An unavailable keychain is reported by the keychain store, never replaced by files.
 */
const storesLayer = (home: string, storage: Storage) =>
  storage === "file"
    ? layerFileStores({ home })
    : Layer.mergeAll(
        KeychainSecretStore.layer(),
        FileEventStore.layer({ home }),
        FileClaimStore.layer({ home }),
        FileLock.layer({ home }),
      ).pipe(Layer.provideMerge(NodeHostIdentity.layer));

/** Every port of the protocol over the given home. */
export const portsLayer = (home: string, storage: Storage) =>
  Layer.mergeAll(
    storesLayer(home, storage),
    ProviderRegistry.layer(home),
    OAuthTokenEndpoint.layer(home),
    FileSessions.layer({ home }).pipe(Layer.provide(NodeHostIdentity.layer)),
  );

export const appLayer = (home: string, storage: Storage) =>
  Layer.fresh(Tokens.layer).pipe(Layer.provideMerge(portsLayer(home, storage)));

/**
 * Test-only fault injection, for the multi-process tests: `BATON_TEST_HOOK=<point>:hang` makes this process announce
 * `BATON_HOOK <point>` on stderr when it reaches that protocol point and then stall there (the test kills it);
 * `<point>:stall-ms:<n>` stalls n ms and continues.
 */
export const hooksFromEnvironment = (value: string | undefined) => {
  if (value === undefined || value === "") return undefined;
  const [point, action, arg] = value.split(":");
  return {
    at: (reached: ProtocolPoint, _account: AccountRef) =>
      reached !== point
        ? Effect.void
        : Effect.gen(function* () {
            yield* Effect.sync(() => process.stderr.write(`BATON_HOOK ${reached}\n`));
            if (action === "hang") return yield* Effect.forever(Effect.sleep("1 hour")); // Effect.never holds no handle: Node would exit 0
            if (action === "stall-ms")
              yield* Effect.sync(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(arg)));
          }),
  };
};

/**
 * Log lines on stderr: warnings always (`baton: warning: …`), decisions with BATON_DEBUG=1 (time-stamped). Log
 * messages never contain secrets: the core logs fingerprints only (I8).
 */
const stderrLogger = (debug: boolean) =>
  Logger.make<unknown, void>(({ message, logLevel, date }) => {
    const text = (Array.isArray(message) ? message : [message])
      .map((m) => (typeof m === "string" ? m : JSON.stringify(m)))
      .join(" ");
    process.stderr.write(logLine(logLevel.toLowerCase(), text, debug ? date : undefined));
  });

/** Provides the app's services, logging (stderr, only with BATON_DEBUG=1) and test hooks to a command. */
export const provideApp = <A, E, R>(effect: Effect.Effect<A, E, R>, environment = environmentFromProcess()) => {
  const hooks = hooksFromEnvironment(process.env.BATON_TEST_HOOK);
  const withHooks = hooks === undefined ? effect : Effect.provideService(effect, ProtocolHooks, hooks);
  const { storage } = environment;
  if (storage instanceof InvalidInput) return Effect.fail(storage);
  const env = { ...environment, storage };
  return withHooks.pipe(
    Effect.provide(appLayer(env.home, storage)),
    Effect.provideService(CliEnvironment, env),
    Effect.provideService(References.MinimumLogLevel, env.debug ? "Debug" : "Warn"),
    Effect.provide(Logger.layer([stderrLogger(env.debug)])),
  );
};
