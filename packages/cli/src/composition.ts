/**
 * The CLI's side of the composition root: the settings read once from the environment (BATON_HOME, BATON_STORAGE,
 * BATON_DEBUG, NO_COLOR), and every command run with the services of `NodeBaton.layer` — the adapters' one wiring,
 * which the Promise facade uses too — with log lines on stderr. The demo's child processes and the tests run the
 * same wiring over their BATON_HOME.
 */
import { NodeBaton, resolveHome } from "@baton/adapters";
import { type AccountRef, InvalidInput, ProtocolHooks, type ProtocolPoint } from "@baton/core";
import { Context, Effect } from "effect";
import { logLine } from "./log-line.ts";

/** Settings read once from the environment. */
export class CliEnvironment extends Context.Service<
  CliEnvironment,
  {
    readonly home: string;
    readonly debug: boolean;
    readonly color: boolean;
    readonly storage: NodeBaton.SecretStorage;
  }
>()("@baton/cli/CliEnvironment") {}

export const environmentFromProcess = () => ({
  home: resolveHome(process.env),
  debug: process.env.BATON_DEBUG === "1",
  color: process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
  storage: NodeBaton.storageFromEnvironment(process.env.BATON_STORAGE),
});

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
  NodeBaton.lineLogger((level, text, date) => process.stderr.write(logLine(level, text, debug ? date : undefined)));

/** Provides the app's services, logging (stderr, only with BATON_DEBUG=1) and test hooks to a command. */
export const provideApp = <A, E, R>(effect: Effect.Effect<A, E, R>, environment = environmentFromProcess()) => {
  const hooks = hooksFromEnvironment(process.env.BATON_TEST_HOOK);
  const withHooks = hooks === undefined ? effect : Effect.provideService(effect, ProtocolHooks, hooks);
  const { storage } = environment;
  if (storage instanceof InvalidInput) return Effect.fail(storage);
  const env = { ...environment, storage };
  return withHooks.pipe(
    Effect.provide(
      NodeBaton.layer({
        backend: { kind: "home", home: env.home, secrets: storage },
        logger: stderrLogger(env.debug),
        minimumLogLevel: env.debug ? "Debug" : "Warn",
      }),
    ),
    Effect.provideService(CliEnvironment, env),
  );
};
