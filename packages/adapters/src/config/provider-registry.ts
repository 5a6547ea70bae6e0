/**
 * The provider registry — registered providers, default accounts, credential-helper hosts — behind one small service,
 * {@link RegistryStore} (`load`, and `modify` = read → change → write as one serialized step), with two
 * implementations: `<BATON_HOME>/config.json` here ({@link fileRegistry}), and the sealed registry document of the
 * PostgreSQL store (postgres/registry.ts) that every machine sharing the store sees. The registry operations the CLI
 * and the facade use (add, remove, list, defaults) and the core's `ProviderDirectory` port are written once on top.
 *
 * The file registry:
 * - Reads: a symlink at the path is refused (`InvalidInput`, nothing is followed); the file is opened `O_NOFOLLOW`,
 *   loose permissions are repaired to 0600 with a warning (see ../file/paths.ts). Content is cached per process and
 *   reused while the file's inode, size and mtime are unchanged (every write replaces the inode, so a rewrite within
 *   one mtime tick is still noticed).
 * - Writes: under the config lock (config-lock.ts, serializing every change across processes; within a process a
 *   mutex queues them first), read the file again → change → atomic replace (0600 temp file, fsync, rename, directory
 *   fsync) in a 0700 home → release. Each change thus applies to the version on disk at that moment (compare-and-set
 *   by serialization, like the account stores), and concurrent edits are all kept. A file that does not decode is
 *   never overwritten: every change starts by decoding the current file and stops at the first problem.
 * - Errors: malformed content and refused paths are `InvalidInput` reason "config" naming the file and the field;
 *   I/O failures are `StoreFailure`; unknown providers are `NotFound` what "provider"; another process's edit that
 *   does not finish within the lock's wait is `Retryable` "lock-timeout".
 */
import { join } from "node:path";
import { InvalidInput, isValidName, NotFound, ProviderDirectory, Retryable, type StoreFailure } from "@baton/core";
import { Context, Effect, Layer } from "effect";
import {
  CONFIG_FILE,
  lstatSyncOrUndefined,
  readSmallFile,
  replaceAtomically,
  runFs,
  secureDir,
  withMutex,
} from "../file/paths.ts";
import { withConfigLock } from "./config-lock.ts";
import {
  type BatonConfig,
  decodeConfigText,
  emptyConfig,
  encodeConfigText,
  isAcceptableEndpoint,
  type ProviderMetadata,
  type Rotation,
  type StoredProvider,
  storedProvider,
  toProfile,
} from "./provider-config.ts";

export { CONFIG_FILE } from "../file/paths.ts";

export type ConfigError = InvalidInput | StoreFailure;
/** What a change of the registry can fail with: also another process's edit that does not finish in time. */
export type ChangeError = ConfigError | Retryable;

export const configPath = (home: string): string => join(home, CONFIG_FILE);

interface Stamp {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

const cache = new Map<string, { readonly stamp: Stamp; readonly config: BatonConfig }>();

const sameStamp = (a: Stamp, b: Stamp): boolean => a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;

const configProblem = (path: string, problem: string): InvalidInput =>
  new InvalidInput({ reason: "config", message: `${path}: ${problem}` });

type Read =
  | { readonly _tag: "absent" }
  | { readonly _tag: "refused"; readonly problem: string }
  | { readonly _tag: "cached"; readonly config: BatonConfig }
  | { readonly _tag: "read"; readonly stamp: Stamp; readonly text: string };

/** The file as it is; `fresh` skips the per-process cache (under the config lock, before a change). */
const readRaw = (path: string, fresh: boolean): Effect.Effect<Read, StoreFailure> =>
  runFs("read", path, async (warn): Promise<Read> => {
    const link = lstatSyncOrUndefined(path);
    if (link === undefined) return { _tag: "absent" };
    if (link.isSymbolicLink()) {
      return { _tag: "refused", problem: "is a symbolic link; baton never follows links in its home" };
    }
    if (!link.isFile()) return { _tag: "refused", problem: "is not a regular file" };
    const cached = cache.get(path);
    if (!fresh && cached !== undefined && sameStamp(cached.stamp, link))
      return { _tag: "cached", config: cached.config };
    const file = readSmallFile(path, warn);
    if (file === undefined) return { _tag: "absent" };
    const { ino, size, mtimeMs } = file.stats;
    return { _tag: "read", stamp: { ino, size, mtimeMs }, text: file.bytes.toString("utf8") };
  });

/** The decoded `<home>/config.json`; an absent file is the empty registry. `fresh` reads it even if it looks unchanged. */
const loadConfigFile = (home: string, fresh: boolean): Effect.Effect<BatonConfig, ConfigError> => {
  const path = configPath(home);
  return Effect.flatMap(readRaw(path, fresh), (read): Effect.Effect<BatonConfig, ConfigError> => {
    switch (read._tag) {
      case "absent":
        return Effect.succeed(emptyConfig);
      case "refused":
        return Effect.fail(configProblem(path, read.problem));
      case "cached":
        return Effect.succeed(read.config);
      case "read": {
        const outcome = decodeConfigText(read.text);
        if (outcome._tag === "invalid") return Effect.fail(configProblem(path, outcome.problem));
        cache.set(path, { stamp: read.stamp, config: outcome.config });
        return Effect.succeed(outcome.config);
      }
    }
  });
};

const writeConfig = (home: string, config: BatonConfig): Effect.Effect<void, StoreFailure> => {
  const path = configPath(home);
  return runFs("write", path, async (warn) => {
    await secureDir(home, [], true, warn);
    await replaceAtomically(path, encodeConfigText(config));
    cache.delete(path);
  });
};

/** Where the registry lives and how it is read and changed. */
export interface RegistryStoreShape {
  /** The registry's place, for messages: `<home>/config.json`, or the store's URL. */
  readonly where: string;
  /** The decoded registry (the empty one when there is none yet). `fresh` skips any per-process cache. */
  readonly load: (fresh: boolean) => Effect.Effect<BatonConfig, ConfigError>;
  /**
   * Read, change, write as one step serialized against every other change, in every process: `change` always sees
   * the registry as it is now. `change` returning the same object skips the write.
   */
  readonly modify: <E>(
    change: (config: BatonConfig) => Effect.Effect<BatonConfig, E>,
  ) => Effect.Effect<BatonConfig, ChangeError | E>;
}

export class RegistryStore extends Context.Service<RegistryStore, RegistryStoreShape>()(
  "@baton/adapters/RegistryStore",
) {}

/** The registry in `<home>/config.json` (see the module comment). */
export const fileRegistry = (home: string): RegistryStoreShape => ({
  where: configPath(home),
  load: (fresh) => loadConfigFile(home, fresh),
  modify: (change) =>
    withMutex(configPath(home))(
      withConfigLock(home)(
        Effect.gen(function* () {
          const current = yield* loadConfigFile(home, true);
          const next = yield* change(current);
          if (next !== current) yield* writeConfig(home, next);
          return next;
        }),
      ),
    ),
});

/** The file registry of `home` as the {@link RegistryStore}. */
export const fileLayer = (home: string): Layer.Layer<RegistryStore> =>
  Layer.succeed(RegistryStore, RegistryStore.of(fileRegistry(home)));

/** The decoded registry; `fresh` reads it even if it looks unchanged. */
export const loadConfig = (fresh = false): Effect.Effect<BatonConfig, ConfigError, RegistryStore> =>
  RegistryStore.use((registry) => registry.load(fresh));

/** {@link RegistryStoreShape.modify} of the registry in use. */
export const modify = <E>(
  change: (config: BatonConfig) => Effect.Effect<BatonConfig, E>,
): Effect.Effect<BatonConfig, ChangeError | E, RegistryStore> =>
  RegistryStore.use((registry) => registry.modify(change));

const argument = (message: string): InvalidInput => new InvalidInput({ reason: "argument", message });

const unknownProvider = (name: string): NotFound =>
  new NotFound({
    what: "provider",
    name,
    message: `no provider named "${name}"; see \`baton provider list\` or add it with \`baton provider add\``,
  });

// ------------------------------------------------------------------------------------------------------------ API

export interface ProviderInput {
  readonly name: string;
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret?: string;
  readonly scope?: string;
  readonly graceWindowSeconds?: number;
  readonly deviceOnly?: boolean;
  readonly preset?: string;
  readonly rotation?: Rotation;
  readonly revokesAccessTokenOnRefresh?: boolean;
  readonly authorizationParameters?: Readonly<Record<string, string>>;
  readonly username?: string;
}

/**
 * What discovery yields: the issuer exactly as the server names itself, the endpoints, and the scopes it says it
 * supports (RFC 8414 `scopes_supported`; not stored).
 */
export interface DiscoveredProvider {
  readonly issuer: string;
  readonly metadata: ProviderMetadata;
  readonly scopesSupported?: ReadonlyArray<string>;
}

/** Discovery of an issuer's metadata: `Retryable` when the issuer cannot answer now, `InvalidInput` otherwise. */
export type Discover = (issuer: string) => Effect.Effect<DiscoveredProvider, InvalidInput | Retryable>;

const validateInput = (input: ProviderInput): InvalidInput | undefined => {
  if (!isValidName(input.name)) {
    return argument(`"${input.name}" is not a valid provider name (letters, digits, ".", "_", "-"; at most 64)`);
  }
  if (URL.parse(input.issuer) === null) return argument(`--issuer: "${input.issuer}" is not a URL`);
  if (!isAcceptableEndpoint(input.issuer)) {
    return argument("--issuer: expected an https URL (plain http only on 127.0.0.1, localhost or [::1])");
  }
  if (input.clientId.length === 0) return argument("--client-id: must not be empty");
  if (input.clientSecret !== undefined && input.clientSecret.length === 0) {
    return argument("the client secret must not be empty");
  }
  const grace = input.graceWindowSeconds ?? 0;
  if (!Number.isInteger(grace) || grace < 0 || grace > 86_400) {
    return argument("--grace-window: expected whole seconds between 0 and 86400");
  }
  if (input.username !== undefined && !/^[\x21-\x7e]{1,128}$/.test(input.username)) {
    return argument("--username: expected 1-128 visible ASCII characters");
  }
  return undefined;
};

const normalizeScope = (scope: string | undefined): string | undefined => {
  const parts = (scope ?? "").split(/\s+/).filter((part) => part.length > 0);
  return parts.length === 0 ? undefined : [...new Set(parts)].join(" ");
};

/**
 * Registers a provider: validates the input, runs `discover` on the issuer (RFC 8414 / OpenID Connect discovery)
 * and stores the metadata it found, so later processes need no network for it. An existing name is refused.
 */
export const addProvider = (
  input: ProviderInput,
  discover: Discover,
): Effect.Effect<StoredProvider, ChangeError, RegistryStore> =>
  Effect.gen(function* () {
    const invalid = validateInput(input);
    if (invalid !== undefined) return yield* invalid;
    const exists = (config: BatonConfig) => storedProvider(config, input.name) !== undefined;
    const already = argument(`a provider named "${input.name}" already exists; remove it first`);
    if (exists(yield* loadConfig())) return yield* already;
    const discovered = yield* discover(input.issuer).pipe(
      Effect.mapError((error) =>
        error._tag === "Retryable"
          ? new Retryable({ account: input.name, reason: error.reason, message: error.message })
          : error,
      ),
    );
    if (input.deviceOnly === true && discovered.metadata.device_authorization_endpoint === undefined) {
      return yield* argument(
        `--device-only: ${discovered.issuer} advertises no device_authorization_endpoint (RFC 8628 §4)`,
      );
    }
    const scope = normalizeScope(input.scope);
    const entry = {
      issuer: discovered.issuer,
      clientId: input.clientId,
      ...(input.clientSecret === undefined ? {} : { clientSecret: input.clientSecret }),
      ...(scope === undefined ? {} : { scope }),
      graceWindowSeconds: input.graceWindowSeconds ?? 0,
      deviceOnly: input.deviceOnly ?? false,
      ...(input.preset === undefined ? {} : { preset: input.preset }),
      ...(input.rotation === undefined ? {} : { rotation: input.rotation }),
      ...(input.revokesAccessTokenOnRefresh === true ? { revokesAccessTokenOnRefresh: true } : {}),
      ...(input.authorizationParameters === undefined
        ? {}
        : { authorizationParameters: { ...input.authorizationParameters } }),
      ...(input.username === undefined ? {} : { username: input.username }),
      metadata: discovered.metadata,
    };
    yield* modify((config) =>
      exists(config)
        ? Effect.fail(already)
        : Effect.succeed({ ...config, providers: { ...config.providers, [input.name]: entry } }),
    );
    return { name: input.name, ...entry };
  });

/** Unregisters a provider and its default account. Local credentials are not touched (that is `logout`'s job). */
export const removeProvider = (name: string): Effect.Effect<void, ChangeError | NotFound, RegistryStore> =>
  Effect.asVoid(
    modify((config) => {
      if (storedProvider(config, name) === undefined) return Effect.fail(unknownProvider(name));
      const providers = Object.fromEntries(Object.entries(config.providers).filter(([key]) => key !== name));
      const defaults = Object.fromEntries(Object.entries(config.defaults).filter(([key]) => key !== name));
      return Effect.succeed({ ...config, providers, defaults });
    }),
  );

/** Every registered provider, sorted by name. Contains client secrets: show `summarize(p)`, never `p`. */
export const listProviders = (): Effect.Effect<ReadonlyArray<StoredProvider>, ConfigError, RegistryStore> =>
  Effect.map(loadConfig(), (config) =>
    Object.keys(config.providers)
      .sort()
      .flatMap((name) => storedProvider(config, name) ?? []),
  );

export const getProvider = (name: string): Effect.Effect<StoredProvider, ConfigError | NotFound, RegistryStore> =>
  Effect.flatMap(loadConfig(), (config) => {
    const provider = storedProvider(config, name);
    return provider === undefined ? Effect.fail(unknownProvider(name)) : Effect.succeed(provider);
  });

/**
 * `baton use REF`: makes `account` the default of `provider`. With `onlyIfUnset`, a default chosen meanwhile (by
 * another process) is kept: the first account of a provider becomes its default, whichever process stores it.
 */
export const setDefaultAccount = (
  provider: string,
  account: string,
  onlyIfUnset = false,
): Effect.Effect<void, ChangeError | NotFound, RegistryStore> =>
  Effect.asVoid(
    modify((config): Effect.Effect<BatonConfig, NotFound | InvalidInput> => {
      if (storedProvider(config, provider) === undefined) return Effect.fail(unknownProvider(provider));
      if (!isValidName(account)) {
        return Effect.fail(argument(`"${account}" is not a valid account name (letters, digits, ".", "_", "-")`));
      }
      const current = Object.hasOwn(config.defaults, provider) ? config.defaults[provider] : undefined;
      if (current === account || (onlyIfUnset && current !== undefined)) return Effect.succeed(config);
      return Effect.succeed({ ...config, defaults: { ...config.defaults, [provider]: account } });
    }),
  );

/** The default account of `provider`, if one was chosen. */
export const defaultAccount = (
  provider: string,
): Effect.Effect<string | undefined, ConfigError | NotFound, RegistryStore> =>
  Effect.flatMap(loadConfig(), (config) =>
    storedProvider(config, provider) === undefined
      ? Effect.fail(unknownProvider(provider))
      : Effect.succeed(Object.hasOwn(config.defaults, provider) ? config.defaults[provider] : undefined),
  );

/**
 * The core's `ProviderDirectory` over the registry in use. Each `get` reads the registry (the file registry re-reads
 * config.json only when it changed on disk); if it has become unreadable since, the last good version is used and a
 * warning is logged (the port can only say NotFound).
 */
export const layer: Layer.Layer<ProviderDirectory, never, RegistryStore> = Layer.effect(
  ProviderDirectory,
  Effect.gen(function* () {
    const current = readingLastGood(yield* RegistryStore);
    return ProviderDirectory.of({
      get: (name) =>
        Effect.flatMap(current, (config) => {
          const provider = storedProvider(config, name);
          return provider === undefined ? Effect.fail(unknownProvider(name)) : Effect.succeed(toProfile(provider));
        }),
    });
  }),
);

/**
 * The registry, read on demand (so commands that do not need it — `--help`, `doctor` — work with a malformed one).
 * If it becomes unreadable after a good read, the last good version is used and a warning is logged; with no good
 * read yet the problem is reported as `InvalidInput` naming the file (or store) and field.
 */
export const readingLastGood = (registry: RegistryStoreShape): Effect.Effect<BatonConfig, InvalidInput> => {
  let lastGood: BatonConfig | undefined;
  return registry.load(false).pipe(
    Effect.tap((config) =>
      Effect.sync(() => {
        lastGood = config;
      }),
    ),
    Effect.catch((error) =>
      lastGood === undefined
        ? Effect.fail(
            error._tag === "InvalidInput" ? error : new InvalidInput({ reason: "config", message: error.message }),
          )
        : Effect.as(Effect.logWarning(`using the last readable provider registry: ${error.message}`), lastGood),
    ),
  );
};
