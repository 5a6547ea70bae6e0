/**
 * The client tokens a broker (`baton serve`) accepts, as a port with one adapter per store: a file of the broker's
 * BATON_HOME (client-registry-file.ts), a table of the PostgreSQL store that every broker on it shares
 * (postgres/clients.ts), and memory (tests, and the doubles of the contract suite). Brokers on one PostgreSQL store
 * accept the same clients: `baton serve client add` on any machine of the store issues a token every broker knows,
 * and `client remove` refuses it on all of them at once.
 *
 * A client token is `baton_` followed by 32 random bytes in base64url; a registry keeps only its SHA-256. A slow
 * password hash (scrypt, argon2) protects guessable passwords; a 256-bit random token cannot be guessed or looked up,
 * so one SHA-256 is as strong and costs microseconds on every request. `accounts` limits a client to those accounts
 * (`PROVIDER:ACCOUNT`, or `PROVIDER` for every account of that provider); without it the client may use every account.
 *
 * Presented tokens are hashed and compared with every stored hash in constant time (`timingSafeEqual`, no early exit),
 * so the time of a refusal says nothing about which bytes matched. Names, account references and the uniqueness of a
 * name are checked here, once for every adapter; an adapter only stores, lists and removes entries.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import {
  type AccountRef,
  accountKey,
  InvalidInput,
  isValidName,
  NotFound,
  type Retryable,
  type StoreFailure,
} from "@baton/core";
import { Context, Effect, Layer } from "effect";

/** What a client may use: `PROVIDER` or `PROVIDER:ACCOUNT`. */
export const ACCOUNT_REF = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(:[A-Za-z0-9][A-Za-z0-9._-]{0,63})?$/;

/** A stored client: the SHA-256 of its token (64 hex digits), never the token. */
export interface ClientEntry {
  readonly name: string;
  readonly sha256: string;
  /** The accounts it may use; `undefined`: every account. */
  readonly accounts: ReadonlyArray<string> | undefined;
  readonly createdAt: number;
}

/** A client as the broker knows it after its token was recognised. */
export interface Client {
  readonly name: string;
  /** The accounts it may use (`PROVIDER` or `PROVIDER:ACCOUNT`); `undefined`: every account. */
  readonly accounts: ReadonlyArray<string> | undefined;
}

/** A client as `client list` shows it (no hash). */
export interface ClientSummary extends Client {
  readonly createdAt: number;
}

/** The registry as read, with the stored digests decoded once for comparisons. */
export interface Registry {
  readonly clients: ReadonlyArray<Client & { readonly digest: Buffer; readonly createdAt: number }>;
}

export type ReadError = InvalidInput | StoreFailure;
export type ChangeError = ReadError | Retryable;

export interface ClientRegistryShape {
  /** Where the registry is, for messages (a path, or the store's address). */
  readonly where: string;
  /** Every client; an adapter may answer from a cache while the stored registry is unchanged. */
  readonly entries: () => Effect.Effect<ReadonlyArray<ClientEntry>, ReadError>;
  /** Stores `entry` unless a client of that name exists (`false`: nothing written). */
  readonly insert: (entry: ClientEntry) => Effect.Effect<boolean, ChangeError>;
  /** Removes client `name` (`false`: there was none). */
  readonly remove: (name: string) => Effect.Effect<boolean, ChangeError>;
}

export class ClientRegistry extends Context.Service<ClientRegistry, ClientRegistryShape>()(
  "@baton/adapters/ClientRegistry",
) {}

const TOKEN_PREFIX = "baton_";

/** A new client token: the prefix (so secret scanners and people recognise it) and 256 random bits. */
export const newClientToken = (): string => `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;

/** The SHA-256 of a client token, as a registry stores it. */
export const digestOf = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest();

const registryCache = new WeakMap<ReadonlyArray<ClientEntry>, Registry>();

/** The registry of `entries`, with digests decoded (computed once per list an adapter returns). */
export const asRegistry = (entries: ReadonlyArray<ClientEntry>): Registry => {
  const cached = registryCache.get(entries);
  if (cached !== undefined) return cached;
  const registry = {
    clients: entries.map((entry) => ({
      name: entry.name,
      accounts: entry.accounts,
      createdAt: entry.createdAt,
      digest: Buffer.from(entry.sha256, "hex"),
    })),
  };
  registryCache.set(entries, registry);
  return registry;
};

/**
 * The client whose token `presented` is, or `undefined`. Compares the presented token's digest with every stored one
 * in constant time, without stopping at a match.
 */
export const identify = (registry: Registry, presented: string): Client | undefined => {
  const digest = digestOf(presented);
  let found: Client | undefined;
  for (const client of registry.clients) {
    if (timingSafeEqual(digest, client.digest) && found === undefined) {
      found = { name: client.name, accounts: client.accounts };
    }
  }
  return found;
};

/** Whether `client` may use `account`. */
export const allows = (client: Client, account: AccountRef): boolean =>
  client.accounts === undefined ||
  client.accounts.some((allowed) => allowed === account.provider || allowed === accountKey(account));

/** The registry in use, for identifying clients. */
export const load: Effect.Effect<Registry, ReadError, ClientRegistry> = ClientRegistry.use((registry) =>
  Effect.map(registry.entries(), asRegistry),
);

/** Every client of the registry in use, sorted by name. */
export const list: Effect.Effect<ReadonlyArray<ClientSummary>, ReadError, ClientRegistry> = ClientRegistry.use(
  (registry) =>
    Effect.map(registry.entries(), (entries) =>
      [...entries]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map(({ name, accounts, createdAt }) => ({ name, accounts, createdAt })),
    ),
);

/**
 * Registers client `name`, limited to `accounts` when any are given, and returns its new token — the only time the
 * token exists outside the client: the registry keeps its hash.
 */
export const add = (
  name: string,
  accounts: ReadonlyArray<string>,
  now: number,
): Effect.Effect<string, ChangeError, ClientRegistry> =>
  Effect.gen(function* () {
    if (!isValidName(name)) {
      return yield* new InvalidInput({
        reason: "argument",
        message: `"${name}" is not a valid client name (letters, digits, ".", "_", "-"; at most 64)`,
      });
    }
    const wrong = accounts.find((ref) => !ACCOUNT_REF.test(ref));
    if (wrong !== undefined) {
      return yield* new InvalidInput({
        reason: "argument",
        message: `--account: "${wrong}" is not PROVIDER or PROVIDER:ACCOUNT`,
      });
    }
    const token = newClientToken();
    const registry = yield* ClientRegistry;
    const inserted = yield* registry.insert({
      name,
      sha256: digestOf(token).toString("hex"),
      accounts: accounts.length === 0 ? undefined : [...new Set(accounts)],
      createdAt: now,
    });
    if (!inserted) {
      return yield* new InvalidInput({
        reason: "argument",
        message: `a client named "${name}" exists; \`baton serve client remove ${name}\` first to issue a new token`,
      });
    }
    return token;
  });

/** Removes client `name`: its token is refused from then on, by every broker of the registry. */
export const remove = (name: string): Effect.Effect<void, ChangeError | NotFound, ClientRegistry> =>
  Effect.flatMap(ClientRegistry, (registry) =>
    Effect.flatMap(registry.remove(name), (removed) =>
      removed
        ? Effect.void
        : Effect.fail(
            new NotFound({
              what: "account",
              name,
              message: `no client named "${name}" (see \`baton serve client list\`)`,
            }),
          ),
    ),
  );

/** A registry in memory: the double that the contract suite checks beside the file and PostgreSQL registries. */
export const makeMemory = (): ClientRegistryShape => {
  let entries: ReadonlyArray<ClientEntry> = [];
  return {
    where: "memory",
    entries: () => Effect.sync(() => entries),
    insert: (entry) =>
      Effect.sync(() => {
        if (entries.some((existing) => existing.name === entry.name)) return false;
        entries = [...entries, entry];
        return true;
      }),
    remove: (name) =>
      Effect.sync(() => {
        const kept = entries.filter((entry) => entry.name !== name);
        const removed = kept.length !== entries.length;
        entries = kept;
        return removed;
      }),
  };
};

export const layerMemory: Layer.Layer<ClientRegistry> = Layer.sync(ClientRegistry, () =>
  ClientRegistry.of(makeMemory()),
);
