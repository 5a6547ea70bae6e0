/**
 * The client tokens a broker accepts: `<BATON_HOME>/serve/clients.json` (0600, in a 0700 directory),
 *
 *   { "version": 1, "clients": { NAME: { "sha256": HEX, "accounts"?: [REF, …], "createdAt": ms } } }
 *
 * A client token is `baton_` followed by 32 random bytes in base64url; the file keeps only its SHA-256. A slow
 * password hash (scrypt, argon2) protects guessable passwords; a 256-bit random token cannot be guessed or looked up,
 * so one SHA-256 is as strong and costs microseconds on every request. `accounts` limits a client to those accounts
 * (`PROVIDER:ACCOUNT`, or `PROVIDER` for every account of that provider); without it the client may use every account.
 *
 * Presented tokens are hashed and compared with every stored hash in constant time (`timingSafeEqual`, no early exit),
 * so the time of a refusal says nothing about which bytes matched. Changes are read → change → atomic replace under
 * the home's config lock (config/config-lock.ts), like the provider registry's; the broker re-reads the file when its
 * inode, size or mtime changed, so `client add` and `client remove` apply to a running broker at once.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { join } from "node:path";
import {
  type AccountRef,
  accountKey,
  InvalidInput,
  isValidName,
  NotFound,
  type Retryable,
  type StoreFailure,
} from "@baton/core";
import { Effect, Exit, Schema } from "effect";
import { withConfigLock } from "../config/config-lock.ts";
import {
  lstatSyncOrUndefined,
  readSmallFile,
  replaceAtomically,
  runFs,
  runFsSync,
  secureDir,
  withMutex,
} from "../file/paths.ts";

export const SERVE_DIR = "serve";
export const CLIENTS_FILE = "clients.json";

export const clientsPath = (home: string): string => join(home, SERVE_DIR, CLIENTS_FILE);

const REF = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(:[A-Za-z0-9][A-Za-z0-9._-]{0,63})?$/;

const ClientEntry = Schema.Struct({
  sha256: Schema.String.check(Schema.isPattern(/^[0-9a-f]{64}$/, { message: "expected 64 hex digits" })),
  accounts: Schema.optionalKey(
    Schema.Array(Schema.String.check(Schema.isPattern(REF, { message: "expected PROVIDER or PROVIDER:ACCOUNT" }))),
  ),
  createdAt: Schema.Finite,
});

const ClientsFile = Schema.Struct({
  version: Schema.Literal(1),
  clients: Schema.Record(
    Schema.String.check(Schema.makeFilter((name: string) => isValidName(name) || "expected a client name")),
    ClientEntry,
  ),
});
type ClientsFile = typeof ClientsFile.Type;

const decodeFile = Schema.decodeUnknownExit(ClientsFile);

const EMPTY: ClientsFile = { version: 1, clients: {} };

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

const TOKEN_PREFIX = "baton_";

/** A new client token: the prefix (so secret scanners and people recognise it) and 256 random bits. */
export const newClientToken = (): string => `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;

const digestOf = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest();

const asRegistry = (file: ClientsFile): Registry => ({
  clients: Object.entries(file.clients).map(([name, entry]) => ({
    name,
    accounts: entry.accounts,
    createdAt: entry.createdAt,
    digest: Buffer.from(entry.sha256, "hex"),
  })),
});

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

const invalidFile = (path: string, problem: string) =>
  new InvalidInput({ reason: "config", message: `${path}: ${problem}` });

const decodeText = (path: string, text: string): ClientsFile | InvalidInput => {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return invalidFile(path, "not valid JSON");
  }
  const decoded = decodeFile(json);
  if (Exit.isSuccess(decoded)) return decoded.value;
  const error = decoded.cause.reasons.find((reason) => reason._tag === "Fail");
  const detail =
    error !== undefined && Schema.isSchemaError(error.error) ? String(error.error.issue) : "schema mismatch";
  return invalidFile(path, `does not match the client registry's schema (${detail.replace(/\s*\n\s*/g, " ")})`);
};

const cache = new Map<string, { readonly stamp: string; readonly file: ClientsFile; readonly registry: Registry }>();

/** The file as stored (absent: no clients); re-read only when its inode, size or mtime changed. */
const readFile = (home: string): Effect.Effect<ClientsFile, InvalidInput | StoreFailure> => {
  const path = clientsPath(home);
  return Effect.flatMap(
    runFsSync("read", path, (warn) => {
      const link = lstatSyncOrUndefined(path);
      if (link === undefined) return EMPTY;
      if (link.isSymbolicLink()) return invalidFile(path, "is a symbolic link; baton never follows links in its home");
      const stamp = `${link.ino}/${link.size}/${link.mtimeMs}`;
      const cached = cache.get(path);
      if (cached !== undefined && cached.stamp === stamp) return cached.file;
      const file = readSmallFile(path, warn);
      if (file === undefined) return EMPTY;
      const decoded = decodeText(path, file.bytes.toString("utf8"));
      if (decoded instanceof InvalidInput) return decoded;
      const { ino, size, mtimeMs } = file.stats;
      cache.set(path, { stamp: `${ino}/${size}/${mtimeMs}`, file: decoded, registry: asRegistry(decoded) });
      return decoded;
    }),
    (read) => (read instanceof InvalidInput ? Effect.fail(read) : Effect.succeed(read)),
  );
};

/** The registry for identifying clients (cached while the file is unchanged). */
export const load = (home: string): Effect.Effect<Registry, InvalidInput | StoreFailure> =>
  Effect.map(readFile(home), (file) => {
    const cached = cache.get(clientsPath(home));
    return cached !== undefined && cached.file === file ? cached.registry : asRegistry(file);
  });

/** Every client, sorted by name. */
export const list = (home: string): Effect.Effect<ReadonlyArray<ClientSummary>, InvalidInput | StoreFailure> =>
  Effect.map(readFile(home), (file) =>
    Object.entries(file.clients)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, entry]) => ({ name, accounts: entry.accounts, createdAt: entry.createdAt })),
  );

type ChangeError = InvalidInput | StoreFailure | Retryable;

const modify = <E>(home: string, change: (file: ClientsFile) => Effect.Effect<ClientsFile, E>) => {
  const path = clientsPath(home);
  return withMutex(path)(
    withConfigLock(home)(
      Effect.gen(function* () {
        cache.delete(path);
        const current = yield* readFile(home);
        const next = yield* change(current);
        yield* runFs("write", path, async (warn) => {
          await secureDir(home, [SERVE_DIR], true, warn);
          await replaceAtomically(path, `${JSON.stringify(next, null, 2)}\n`);
        });
        cache.delete(path);
      }),
    ),
  );
};

/**
 * Registers client `name`, limited to `accounts` when any are given, and returns its new token — the only time the
 * token exists outside the client: the registry keeps its hash.
 */
export const add = (
  home: string,
  name: string,
  accounts: ReadonlyArray<string>,
  now: number,
): Effect.Effect<string, ChangeError> =>
  Effect.gen(function* () {
    if (!isValidName(name)) {
      return yield* new InvalidInput({
        reason: "argument",
        message: `"${name}" is not a valid client name (letters, digits, ".", "_", "-"; at most 64)`,
      });
    }
    const wrong = accounts.find((ref) => !REF.test(ref));
    if (wrong !== undefined) {
      return yield* new InvalidInput({
        reason: "argument",
        message: `--account: "${wrong}" is not PROVIDER or PROVIDER:ACCOUNT`,
      });
    }
    const token = newClientToken();
    const entry = {
      sha256: digestOf(token).toString("hex"),
      ...(accounts.length === 0 ? {} : { accounts: [...new Set(accounts)] }),
      createdAt: now,
    };
    yield* modify(home, (file) =>
      Object.hasOwn(file.clients, name)
        ? Effect.fail(
            new InvalidInput({
              reason: "argument",
              message: `a client named "${name}" exists; \`baton serve client remove ${name}\` first to issue a new token`,
            }),
          )
        : Effect.succeed({ ...file, clients: { ...file.clients, [name]: entry } }),
    );
    return token;
  });

/** Removes client `name`: its token is refused from then on. */
export const remove = (home: string, name: string): Effect.Effect<void, ChangeError | NotFound> =>
  modify(home, (file) =>
    Object.hasOwn(file.clients, name)
      ? Effect.succeed({
          ...file,
          clients: Object.fromEntries(Object.entries(file.clients).filter(([key]) => key !== name)),
        })
      : Effect.fail(
          new NotFound({
            what: "account",
            name,
            message: `no client named "${name}" (see \`baton serve client list\`)`,
          }),
        ),
  );
