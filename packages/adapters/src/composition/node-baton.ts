/**
 * baton on Node, wired once: the only place that connects the adapters to the core's ports. The CLI and the Promise
 * facade (facade/create-baton.ts) both build their services from {@link layer}, so every store and transport is
 * wired here and nowhere else: the protocol (`Tokens`), the secret, event and claim stores, the account lock, the
 * host's identity, the provider registry, the brokers' client registry, the token endpoint and the session records — and, when the caller gives
 * one, where log lines go. Three backends: a BATON_HOME on this machine, a PostgreSQL store shared by many machines, or
 * a broker (`baton serve`) that lends this process access tokens.
 */
import {
  type AccountLock,
  type ClaimStore,
  type EventStore,
  type HostIdentity,
  InvalidInput,
  type ProviderDirectory,
  type Retryable,
  type SecretStore,
  type Sessions,
  type TokenEndpoint,
  Tokens,
} from "@baton/core";
import { Context, Effect, Layer, Logger, LogLevel, References } from "effect";
import { ClientRegistry } from "../broker/client-registry.ts";
import * as ClientRegistryFile from "../broker/client-registry-file.ts";
import { BrokerTokens, ThinPorts } from "../broker/index.ts";
import type { BrokerConnection } from "../broker/request.ts";
import { ProviderRegistry } from "../config/index.ts";
import { emptyConfig } from "../config/provider-config.ts";
import { RegistryStore } from "../config/provider-registry.ts";
import { FileClaimStore, FileEventStore, FileLock, FileSecretStore, NodeHostIdentity } from "../file/index.ts";
import { KeychainSecretStore } from "../keychain/index.ts";
import { OAuthTokenEndpoint } from "../oauth/index.ts";
import { layerPostgresStores, PostgresStore, StoreKey } from "../postgres/index.ts";
import * as FileSessions from "../sessions/file-sessions.ts";

/** Where secrets live: the OS keychain, or 0600 files under BATON_HOME (an explicit choice). */
export type SecretStorage = "keychain" | "file";

/**
 * Where accounts live. `home`: BATON_HOME on this machine holds the events, claims, lock, sessions and the provider
 * registry in files, and the secrets go to the OS keychain or to files. `postgres`: everything an account shares —
 * registry, sealed secrets, events, claims, the lock and its notifications, sessions — is in the PostgreSQL database
 * of `store.url` (BATON_STORE), shared by every machine that names it with the same key. `broker`: a broker
 * (`baton serve`) holds the accounts and lends this process access tokens (BATON_SERVER, one address or the list of
 * the brokers of one store, asked in turn while one is unreachable: broker/request.ts; nothing is kept or written
 * here).
 */
export type Backend =
  | { readonly kind: "home"; readonly home: string; readonly secrets: SecretStorage }
  | { readonly kind: "postgres"; readonly store: PostgresStore.PostgresSettings }
  | { readonly kind: "broker"; readonly connection: BrokerConnection };

export interface Options {
  readonly backend: Backend;
  /**
   * Receives the log lines of everything run with these services (default: Effect's logger). baton logs
   * fingerprints, never secrets (I8).
   */
  readonly logger?: Logger.Logger<unknown, void>;
  /** The least severe level logged, with `logger` (default: the level of the context the services are built in). */
  readonly minimumLogLevel?: LogLevel.LogLevel;
  /**
   * This machine's name in events, claims and sessions (default: the host name; on a shared store the host name with
   * its machine id, see node/host-identity.ts). BATON_MACHINE_ID is read by the CLI and the facade.
   */
  readonly machine?: string;
}

/**
 * The backend in use, and whether its store can be used now: `ready` connects, migrates and checks the key of a
 * PostgreSQL store (`InvalidInput`: no key, a wrong key, a newer schema, a refused login — exit 2; `Retryable`: the
 * server cannot be reached — exit 4), and is nothing for a home. Hosts run it before anything else, so these errors
 * surface as themselves before any network call; the ports would only report a `StoreFailure`.
 */
export class StoreBackend extends Context.Service<
  StoreBackend,
  {
    readonly ready: Effect.Effect<void, InvalidInput | Retryable>;
    readonly backend:
      | { readonly kind: "home"; readonly home: string }
      | { readonly kind: "postgres"; readonly store: PostgresStore.PostgresStoreShape }
      | { readonly kind: "broker" };
  }
>()("@baton/adapters/StoreBackend") {}

/** What {@link layer} provides: the protocol and every port it runs on. */
export type Services =
  | Tokens.Tokens
  | SecretStore
  | EventStore
  | ClaimStore
  | AccountLock
  | HostIdentity
  | ProviderDirectory
  | TokenEndpoint
  | Sessions
  | RegistryStore
  | ClientRegistry
  | StoreBackend;

/**
 * BATON_STORAGE: the OS keychain unless file storage is chosen explicitly (`file`); anything else is invalid input.
 * An unavailable keychain is reported by the keychain store, never replaced by files.
 */
export const storageFromEnvironment = (value: string | undefined): SecretStorage | InvalidInput =>
  value === undefined || value === "" || value === "keychain"
    ? "keychain"
    : value === "file"
      ? "file"
      : new InvalidInput({ reason: "argument", message: `BATON_STORAGE must be "keychain" or "file", not "${value}"` });

/** What selects the backend: BATON_HOME, BATON_STORAGE, BATON_STORE and its key, unless the host passes its own. */
export interface BackendChoice {
  /** BATON_HOME (resolved). */
  readonly home: string;
  /** Where secrets live on a home backend (default: BATON_STORAGE). */
  readonly storage?: SecretStorage;
  /** A PostgreSQL store shared by many machines, `postgres://…` (default: BATON_STORE). */
  readonly store?: string;
  /** Its key, 64 hex digits or base64 (default: BATON_STORE_KEY, else the file named by BATON_STORE_KEY_FILE). */
  readonly storeKey?: string;
}

/**
 * The backend chosen by `choice` and the environment: the PostgreSQL store when a store URL is given (BATON_STORE),
 * else BATON_HOME with BATON_STORAGE (which then does not apply). A malformed URL or key is `InvalidInput` naming the
 * variable; a missing key is not (`baton store init --generate-key` must run without one): the store's readiness
 * check reports it before anything is stored.
 */
export const backendFromEnvironment = (choice: BackendChoice, env: NodeJS.ProcessEnv): Backend | InvalidInput => {
  const url = choice.store ?? (env.BATON_STORE === "" ? undefined : env.BATON_STORE);
  if (url === undefined) {
    const storage = choice.storage ?? storageFromEnvironment(env.BATON_STORAGE);
    return storage instanceof InvalidInput ? storage : { kind: "home", home: choice.home, secrets: storage };
  }
  if (!PostgresStore.isPostgresUrl(url)) {
    return new InvalidInput({
      reason: "argument",
      message: "BATON_STORE must be a postgres:// or postgresql:// URL (e.g. postgres://baton@db.example:5432/baton)",
    });
  }
  const key =
    choice.storeKey === undefined
      ? StoreKey.keyFromEnvironment(env)
      : StoreKey.parseStoreKey(choice.storeKey, "storeKey");
  if (key instanceof InvalidInput) return key;
  return { kind: "postgres", store: { url, key } };
};

/** The ports of a BATON_HOME on this machine. */
const homePorts = (backend: Extract<Backend, { readonly kind: "home" }>, machine: string | undefined) =>
  Layer.mergeAll(
    backend.secrets === "file" ? FileSecretStore.layer({ home: backend.home }) : KeychainSecretStore.layer(),
    FileEventStore.layer({ home: backend.home }),
    FileClaimStore.layer({ home: backend.home }),
    FileLock.layer({ home: backend.home }),
    ProviderRegistry.layer,
    OAuthTokenEndpoint.layer(),
    FileSessions.layer({ home: backend.home }),
    ClientRegistryFile.layer(backend.home),
    Layer.succeed(StoreBackend)({ ready: Effect.void, backend: { kind: "home", home: backend.home } }),
  ).pipe(
    Layer.provideMerge(ProviderRegistry.fileLayer(backend.home)),
    Layer.provideMerge(machine === undefined ? NodeHostIdentity.layer : NodeHostIdentity.layerNamed(machine)),
  );

/** The ports of a PostgreSQL store shared by many machines. */
const postgresPorts = (backend: Extract<Backend, { readonly kind: "postgres" }>, machine: string | undefined) =>
  Layer.mergeAll(
    ProviderRegistry.layer,
    OAuthTokenEndpoint.layer(),
    Layer.effect(
      StoreBackend,
      Effect.gen(function* () {
        const store = yield* PostgresStore.PostgresStore;
        return { ready: store.ready, backend: { kind: "postgres", store } } as const;
      }),
    ),
  ).pipe(
    Layer.provideMerge(layerPostgresStores(backend.store)),
    Layer.provideMerge(NodeHostIdentity.layerNamed(machine ?? NodeHostIdentity.sharedMachineName())),
  );

const noClientsOnThinClient = new InvalidInput({
  reason: "argument",
  message: "a thin client (BATON_SERVER) has no client tokens of its own; manage them on the broker's host",
});

/**
 * A thin client's services: `Tokens` over the broker's hand-outs and memory-only ports (broker/), no provider registry
 * of its own (the broker's is the one that counts), and no store to check.
 */
const brokerServices = (backend: Extract<Backend, { readonly kind: "broker" }>) =>
  Layer.mergeAll(
    BrokerTokens.layer(backend.connection),
    ThinPorts.layer(),
    Layer.succeed(RegistryStore)({
      where: "the broker",
      load: () => Effect.succeed(emptyConfig),
      modify: () =>
        Effect.fail(
          new InvalidInput({
            reason: "argument",
            message: "a thin client (BATON_SERVER) has no provider registry of its own; change the broker's",
          }),
        ),
    }),
    Layer.succeed(ClientRegistry)({
      where: "the broker",
      entries: () => Effect.succeed([]),
      insert: () => Effect.fail(noClientsOnThinClient),
      remove: () => Effect.fail(noClientsOnThinClient),
    }),
    Layer.succeed(StoreBackend)({ ready: Effect.void, backend: { kind: "broker" } }),
  );

/** The protocol and its ports over `options.backend`, with the caller's logger (also while the layer is built). */
export const layer = (options: Options): Layer.Layer<Services> => {
  const { backend, machine } = options;
  const services =
    backend.kind === "broker"
      ? brokerServices(backend)
      : Layer.fresh(Tokens.layer).pipe(
          Layer.provideMerge(backend.kind === "home" ? homePorts(backend, machine) : postgresPorts(backend, machine)),
        );
  if (options.logger === undefined) return services;
  const level = options.minimumLogLevel;
  const logging = Layer.mergeAll(
    Logger.layer([options.logger]),
    level === undefined ? Layer.empty : Layer.succeed(References.MinimumLogLevel)(level),
  );
  return services.pipe(Layer.provideMerge(logging));
};

/** A log line as {@link lineLogger} hands it on. */
export interface LogLine {
  /** `debug`, `info`, `warn`, `error`, … */
  readonly level: string;
  /** The logged values joined with spaces, non-strings as JSON. */
  readonly text: string;
  readonly date: Date;
  /** Whether debug lines are being logged (the minimum level is `Debug` or lower): a debugging run. */
  readonly debugging: boolean;
}

/** A logger that hands each line to `write`. */
export const lineLogger = (write: (line: LogLine) => void): Logger.Logger<unknown, void> =>
  Logger.make(({ message, logLevel, date, fiber }) => {
    const text = (Array.isArray(message) ? message : [message])
      .map((part) => (typeof part === "string" ? part : JSON.stringify(part)))
      .join(" ");
    const debugging = LogLevel.isLessThanOrEqualTo(fiber.getRef(References.MinimumLogLevel), "Debug");
    write({ level: logLevel.toLowerCase(), text, date, debugging });
  });
