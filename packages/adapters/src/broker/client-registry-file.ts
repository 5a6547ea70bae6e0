/**
 * The client registry in a broker's BATON_HOME: `<BATON_HOME>/serve/clients.json` (0600, in a 0700 directory),
 *
 *   { "version": 1, "clients": { NAME: { "sha256": HEX, "accounts"?: [REF, …], "createdAt": ms } } }
 *
 * Changes are read → change → atomic replace under the home's config lock (config/config-lock.ts), like the provider
 * registry's, so concurrent `client add`s never lose one; the broker re-reads the file when its inode, size or mtime
 * changed, so `client add` and `client remove` apply to a running broker at once. A file that does not decode is
 * never overwritten: reads and changes stop with `InvalidInput` naming it.
 */
import { join } from "node:path";
import { InvalidInput, isValidName, type StoreFailure } from "@baton/core";
import { Effect, Exit, Layer, Schema } from "effect";
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
import { ACCOUNT_REF, type ClientEntry, ClientRegistry, type ClientRegistryShape } from "./client-registry.ts";

export const SERVE_DIR = "serve";
export const CLIENTS_FILE = "clients.json";

export const clientsPath = (home: string): string => join(home, SERVE_DIR, CLIENTS_FILE);

const StoredEntry = Schema.Struct({
  sha256: Schema.String.check(Schema.isPattern(/^[0-9a-f]{64}$/, { message: "expected 64 hex digits" })),
  accounts: Schema.optionalKey(
    Schema.Array(
      Schema.String.check(Schema.isPattern(ACCOUNT_REF, { message: "expected PROVIDER or PROVIDER:ACCOUNT" })),
    ),
  ),
  createdAt: Schema.Finite,
});

const ClientsFile = Schema.Struct({
  version: Schema.Literal(1),
  clients: Schema.Record(
    Schema.String.check(Schema.makeFilter((name: string) => isValidName(name) || "expected a client name")),
    StoredEntry,
  ),
});
type ClientsFile = typeof ClientsFile.Type;

const decodeFile = Schema.decodeUnknownExit(ClientsFile);

const EMPTY: ClientsFile = { version: 1, clients: {} };

const entriesOf = (file: ClientsFile): ReadonlyArray<ClientEntry> =>
  Object.entries(file.clients).map(([name, entry]) => ({
    name,
    sha256: entry.sha256,
    accounts: entry.accounts,
    createdAt: entry.createdAt,
  }));

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

/** The client registry of `home`. */
export const make = (home: string): ClientRegistryShape => {
  const path = clientsPath(home);
  let cached: { readonly stamp: string; readonly file: ClientsFile; readonly entries: ReadonlyArray<ClientEntry> } = {
    stamp: "",
    file: EMPTY,
    entries: [],
  };

  /** The file as stored (absent: no clients); decoded again only when its inode, size or mtime changed. */
  const read = (): Effect.Effect<ClientsFile, InvalidInput | StoreFailure> =>
    Effect.flatMap(
      runFsSync("read", path, (warn) => {
        const link = lstatSyncOrUndefined(path);
        if (link === undefined) return EMPTY;
        if (link.isSymbolicLink()) {
          return invalidFile(path, "is a symbolic link; baton never follows links in its home");
        }
        if (cached.stamp === `${link.ino}/${link.size}/${link.mtimeMs}`) return cached.file;
        const file = readSmallFile(path, warn);
        if (file === undefined) return EMPTY;
        const decoded = decodeText(path, file.bytes.toString("utf8"));
        if (decoded instanceof InvalidInput) return decoded;
        const { ino, size, mtimeMs } = file.stats;
        cached = { stamp: `${ino}/${size}/${mtimeMs}`, file: decoded, entries: entriesOf(decoded) };
        return decoded;
      }),
      (outcome) => (outcome instanceof InvalidInput ? Effect.fail(outcome) : Effect.succeed(outcome)),
    );

  /** Read → `change` → atomic replace, under the home's config lock; `undefined` from `change`: nothing to write. */
  const modify = (change: (file: ClientsFile) => ClientsFile | undefined) =>
    withMutex(path)(
      withConfigLock(home)(
        Effect.gen(function* () {
          cached = { stamp: "", file: EMPTY, entries: [] };
          const next = change(yield* read());
          if (next === undefined) return false;
          yield* runFs("write", path, async (warn) => {
            await secureDir(home, [SERVE_DIR], true, warn);
            await replaceAtomically(path, `${JSON.stringify(next, null, 2)}\n`);
          });
          return true;
        }),
      ),
    );

  return {
    where: path,
    entries: () => Effect.map(read(), (file) => (file === cached.file ? cached.entries : entriesOf(file))),
    insert: (entry) =>
      modify((file) =>
        Object.hasOwn(file.clients, entry.name)
          ? undefined
          : {
              ...file,
              clients: {
                ...file.clients,
                [entry.name]: {
                  sha256: entry.sha256,
                  ...(entry.accounts === undefined ? {} : { accounts: entry.accounts }),
                  createdAt: entry.createdAt,
                },
              },
            },
      ),
    remove: (name) =>
      modify((file) =>
        Object.hasOwn(file.clients, name)
          ? { ...file, clients: Object.fromEntries(Object.entries(file.clients).filter(([key]) => key !== name)) }
          : undefined,
      ),
  };
};

/** The client registry of `home` as the {@link ClientRegistry}. */
export const layer = (home: string): Layer.Layer<ClientRegistry> =>
  Layer.sync(ClientRegistry, () => ClientRegistry.of(make(home)));
