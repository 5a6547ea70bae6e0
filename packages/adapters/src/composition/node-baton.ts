/**
 * baton on Node, wired once: the only place that connects the adapters to the core's ports. The CLI and the Promise
 * facade (facade/create-baton.ts) both build their services from {@link layer}, so every store and transport is
 * wired here and nowhere else: the protocol (`Tokens`), the secret, event and claim stores, the account lock, the
 * host's identity, the provider registry, the token endpoint and the session records — and, when the caller gives
 * one, where log lines go.
 */
import {
  type AccountLock,
  type ClaimStore,
  type EventStore,
  type HostIdentity,
  InvalidInput,
  type ProviderDirectory,
  type SecretStore,
  type Sessions,
  type TokenEndpoint,
  Tokens,
} from "@baton/core";
import { Layer, Logger, LogLevel, References } from "effect";
import { ProviderRegistry } from "../config/index.ts";
import type { RegistryStore } from "../config/provider-registry.ts";
import { FileClaimStore, FileEventStore, FileLock, FileSecretStore, NodeHostIdentity } from "../file/index.ts";
import { KeychainSecretStore } from "../keychain/index.ts";
import { OAuthTokenEndpoint } from "../oauth/index.ts";
import * as FileSessions from "../sessions/file-sessions.ts";

/** Where secrets live: the OS keychain, or 0600 files under BATON_HOME (an explicit choice). */
export type SecretStorage = "keychain" | "file";

/**
 * Where accounts live. One kind today, `home`: BATON_HOME on this machine holds the events, claims, lock, sessions and
 * the provider registry in files, and the secrets go to the OS keychain or to files. A store shared by many machines
 * and a broker client join this union as further kinds, wired in {@link layer} like this one.
 */
export type Backend = { readonly kind: "home"; readonly home: string; readonly secrets: SecretStorage };

export interface Options {
  readonly backend: Backend;
  /**
   * Receives the log lines of everything run with these services (default: Effect's logger). baton logs
   * fingerprints, never secrets (I8).
   */
  readonly logger?: Logger.Logger<unknown, void>;
  /** The least severe level logged, with `logger` (default: the level of the context the services are built in). */
  readonly minimumLogLevel?: LogLevel.LogLevel;
}

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
  | RegistryStore;

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

/** The ports of a BATON_HOME on this machine. */
const homePorts = (backend: Backend) =>
  Layer.mergeAll(
    backend.secrets === "file" ? FileSecretStore.layer({ home: backend.home }) : KeychainSecretStore.layer(),
    FileEventStore.layer({ home: backend.home }),
    FileClaimStore.layer({ home: backend.home }),
    FileLock.layer({ home: backend.home }),
    ProviderRegistry.layer,
    OAuthTokenEndpoint.layer(),
    FileSessions.layer({ home: backend.home }),
  ).pipe(
    Layer.provideMerge(ProviderRegistry.fileLayer(backend.home)),
    Layer.provideMerge(NodeHostIdentity.layer),
  );

/** The protocol and its ports over `options.backend`, with the caller's logger (also while the layer is built). */
export const layer = (options: Options): Layer.Layer<Services> => {
  const services = Layer.fresh(Tokens.layer).pipe(Layer.provideMerge(homePorts(options.backend)));
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
