/**
 * The CLI's side of the composition root: the settings read once from the environment (BATON_HOME, BATON_STORAGE,
 * BATON_STORE with BATON_STORE_KEY / BATON_STORE_KEY_FILE, BATON_MACHINE_ID, BATON_DEBUG, NO_COLOR, and BATON_SERVER
 * with BATON_SERVER_TOKEN for a thin client of a broker), and the services
 * every command runs with — those of `NodeBaton.layer`, the adapters' one wiring, which the Promise facade uses too —
 * with log lines on stderr. The demo's child processes and the tests run the same wiring over their BATON_HOME.
 *
 * With BATON_STORE the accounts live in a PostgreSQL store shared by many machines; every command but `doctor` and
 * `store` (which report why a store is not ready) and `demo` (which uses a home of its own) first checks that it is
 * ready — connected, migrated, the key the store's —, so a wrong key or a newer schema is exit 2 and an unreachable
 * server exit 4, before anything else. With BATON_SERVER the process is a thin client: it borrows access tokens from
 * the broker and keeps nothing of its own.
 */
import { type BrokerRequest, connectionFromSettings, NodeBaton, NodeHostIdentity, resolveHome } from "@baton/adapters";
import { InvalidInput, type Retryable } from "@baton/core";
import { Context, Effect, Layer, References } from "effect";
import { logLine } from "./log-line.ts";

/** Settings read once from the environment. */
export class CliEnvironment extends Context.Service<
  CliEnvironment,
  {
    readonly home: string;
    readonly debug: boolean;
    readonly color: boolean;
    readonly storage: NodeBaton.SecretStorage;
    /** The broker this process borrows its tokens from (BATON_SERVER), if any: a thin client. */
    readonly server: BrokerRequest.BrokerConnection | undefined;
  }
>()("@baton/cli/CliEnvironment") {}

export const environmentFromProcess = () => {
  const home = resolveHome(process.env);
  return {
    home,
    debug: process.env.BATON_DEBUG === "1",
    color: process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
    storage: NodeBaton.storageFromEnvironment(process.env.BATON_STORAGE),
    backend: NodeBaton.backendFromEnvironment({ home }, process.env),
    machine: NodeHostIdentity.machineNameFromEnvironment(process.env),
    server: connectionFromSettings(process.env.BATON_SERVER, process.env.BATON_SERVER_TOKEN),
  };
};

type Environment = ReturnType<typeof environmentFromProcess>;

/** What the commands run with. */
export type AppServices = NodeBaton.Services | CliEnvironment;

/**
 * Services added to the app's for every command, on top of the wiring: an extension point (e.g. the core's
 * `ProtocolHooks`); the `baton` executable adds none.
 */
export type Extension = Layer.Layer<never>;

/**
 * Log lines on stderr: warnings always (`baton: warning: …`); decisions too, time-stamped, when debugging
 * (BATON_DEBUG=1, or `--log-level debug`, which lowers the minimum level for the command it runs). Log messages never
 * contain secrets: the core logs fingerprints only (I8).
 */
const stderrLogger = NodeBaton.lineLogger((line) =>
  process.stderr.write(logLine(line.level, line.text, line.debugging ? line.date : undefined)),
);

/**
 * The services of the commands — over BATON_HOME, the store of BATON_STORE, or the broker of BATON_SERVER; an invalid
 * BATON_STORAGE, BATON_STORE, store key, BATON_MACHINE_ID or BATON_SERVER fails them (exit 2) but not `--help`. With `checkStore` (every command but `doctor`, `store` and `demo`), a store that is not
 * ready fails them too, with its own error.
 */
export const appLayer = (
  environment: Environment,
  extension: Extension = Layer.empty,
  options: { readonly checkStore: boolean } = { checkStore: true },
): Layer.Layer<AppServices, InvalidInput | Retryable> =>
  Layer.unwrap(
    Effect.suspend(() => {
      const { storage, machine, server } = environment;
      if (storage instanceof InvalidInput) return Effect.fail(storage);
      if (server instanceof InvalidInput) return Effect.fail(server);
      const backend: NodeBaton.Backend | InvalidInput =
        server === undefined ? environment.backend : { kind: "broker", connection: server };
      if (backend instanceof InvalidInput) return Effect.fail(backend);
      if (machine instanceof InvalidInput) return Effect.fail(machine);
      const { home, debug, color } = environment;
      const services = NodeBaton.layer({
        backend,
        ...(machine === undefined ? {} : { machine }),
        logger: stderrLogger,
      });
      const ready = options.checkStore
        ? Layer.effectDiscard(NodeBaton.StoreBackend.use((store) => store.ready)).pipe(Layer.provide(services))
        : Layer.empty;
      return Effect.succeed(
        Layer.mergeAll(
          services,
          ready,
          Layer.succeed(CliEnvironment)({ home, debug, color, storage, server }),
          extension,
        ),
      );
    }),
  );

/** The minimum level of the log lines on stderr: decisions with BATON_DEBUG=1, else warnings and errors. */
export const withLogLevel =
  (environment: Environment) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.provideService(effect, References.MinimumLogLevel, environment.debug ? "Debug" : "Warn");

/** Runs a command's effect with the app's services and log level (the lean entry's way; main.ts parses first). */
export const provideApp = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  extension?: Extension,
  environment = environmentFromProcess(),
) => effect.pipe(Effect.provide(appLayer(environment, extension)), withLogLevel(environment));
