/**
 * `baton store init | status | rotate-key`: the PostgreSQL store shared by many machines (BATON_STORE, docs/scale-out.md).
 *
 * - `init [--generate-key FILE]` creates or migrates the schema (idempotent; the first use of the store does the same)
 *   and records the key check with the store key; `--generate-key FILE` first makes a new random key and writes it to
 *   a new 0600 FILE (never overwriting one), for BATON_STORE_KEY_FILE on every machine.
 * - `status [--json]` shows the server, the schema version against this baton's, whether the key given is the
 *   store's, the accounts with their current generations, and stuck claims — without opening a secret.
 *
 * - `rotate-key --to-key-file FILE | --generate-key FILE` re-seals every secret, the provider registry and the key
 *   check from the store key given (BATON_STORE_KEY or BATON_STORE_KEY_FILE) to the new key, in one transaction,
 *   once no refresh is in progress (adapters' postgres/key-rotation.ts says why nobody is logged out by it).
 *
 * They run when the store is not ready (that is what they are for). Exit codes: 0; 2 no BATON_STORE, no or a wrong key,
 * a newer schema, a refused login, a key file that exists or cannot be read, a secret that does not open; 4 the server
 * cannot be reached, or a refresh still in progress after 30 s.
 */
import { NodeBaton, PostgresAdministration, PostgresKeyRotation, PostgresStore, StoreKey } from "@baton/adapters";
import { InvalidInput, Retryable } from "@baton/core";
import { Effect, Option } from "effect";
import { Command, Flag } from "effect/cli";
import { CliEnvironment } from "../composition.ts";
import { absoluteTime, paint, table } from "../format.ts";
import { jsonFlag } from "../json-flag.ts";

const noStore = new InvalidInput({
  reason: "argument",
  message:
    "BATON_STORE is not set: `baton store` works on a PostgreSQL store (BATON_STORE=postgres://…); without it accounts live in BATON_HOME",
});

/** The PostgreSQL store of BATON_STORE, or the usage error saying it is not set. */
const sharedStore = Effect.gen(function* () {
  const { backend } = yield* NodeBaton.StoreBackend;
  if (backend.kind !== "postgres") return yield* noStore;
  return backend.store;
});

/** `--generate-key FILE`: a new random key written to a new 0600 FILE (never overwriting one). */
const generatedKeyFile = (path: string) =>
  Effect.try({
    try: () => {
      const key = StoreKey.generateStoreKey();
      StoreKey.writeKeyFile(path, key);
      return key;
    },
    catch: (error) =>
      new InvalidInput({
        reason: "argument",
        message: `--generate-key: cannot create ${path} (${typeof error === "object" && error !== null && "code" in error ? String(error.code) : "error"}); it must not exist yet`,
      }),
  });

const init = Command.make(
  "init",
  {
    generateKey: Flag.String("generate-key").pipe(
      Flag.withDescription("write a new random store key to this new file (mode 0600) and use it"),
      Flag.optional,
    ),
    json: jsonFlag,
  },
  ({ generateKey, json }) =>
    Effect.gen(function* () {
      const store = yield* sharedStore;
      let target = store;
      let written: string | undefined;
      if (Option.isSome(generateKey)) {
        if (store.key !== undefined) {
          return yield* new InvalidInput({
            reason: "argument",
            message: `--generate-key: a store key is already set (key ${store.key.id}); unset BATON_STORE_KEY and BATON_STORE_KEY_FILE to make a new one`,
          });
        }
        const key = yield* generatedKeyFile(generateKey.value);
        written = generateKey.value;
        target = PostgresStore.make(key, store.session);
      }
      const migrated = yield* PostgresAdministration.initialize(target);
      const keyId = target.key?.id ?? "";
      const text = json
        ? JSON.stringify(
            {
              version: 1,
              server: store.where,
              schemaVersion: migrated.to,
              migratedFrom: migrated.from,
              keyId,
              keyFile: written ?? null,
            },
            null,
            2,
          )
        : [
            migrated.from === migrated.to
              ? `the baton store at ${store.where} is at schema version ${migrated.to} (nothing to migrate)`
              : `the baton store at ${store.where} is at schema version ${migrated.to} (was ${migrated.from === 0 ? "empty" : migrated.from})`,
            `its key is ${keyId}`,
            ...(written === undefined
              ? []
              : [
                  `the key was written to ${written} (mode 0600): set BATON_STORE_KEY_FILE=${written} on every machine`,
                ]),
          ].join("\n");
      yield* Effect.sync(() => process.stdout.write(`${text}\n`));
    }),
).pipe(
  Command.withDescription("Create or migrate the shared store's schema; optionally generate its key"),
  Command.withExamples([
    { command: "baton store init --generate-key ~/.baton-store.key", description: "a new store and its key file" },
    { command: "baton store init", description: "migrate to this baton's schema (BATON_STORE_KEY set)" },
  ]),
);

const keyText = (report: PostgresAdministration.StoreReport): string => {
  switch (report.key) {
    case "ok":
      return `key ${report.keyId} (the store's${report.storeKeySince === null ? "" : `, since ${absoluteTime(report.storeKeySince)}`})`;
    case "missing":
      return "no store key given (set BATON_STORE_KEY or BATON_STORE_KEY_FILE)";
    case "unset":
      return `key ${report.keyId ?? "none"}; the store has no key check yet (\`baton store init\` records it)`;
    case "wrong":
      return `key ${report.keyId} is NOT the store's key (${report.storeKeyId})`;
  }
};

const status = Command.make("status", { json: jsonFlag }, ({ json }) =>
  Effect.gen(function* () {
    const env = yield* CliEnvironment;
    const store = yield* sharedStore;
    const report = yield* PostgresAdministration.report(store);
    const newer = report.schemaVersion > report.knownSchemaVersion;
    const problem = report.key === "wrong" || report.key === "missing" || newer;
    const text = json
      ? JSON.stringify({ version: 1, ...report }, null, 2)
      : [
          `server    ${report.server} (PostgreSQL ${report.serverVersion}, ${report.connections} baton connection(s))`,
          `schema    version ${report.schemaVersion}${
            newer
              ? paint(env.color, "red", ` — newer than this baton (${report.knownSchemaVersion}): upgrade baton`)
              : report.schemaVersion < report.knownSchemaVersion
                ? ` (this baton migrates it to ${report.knownSchemaVersion} on first use, or run \`baton store init\`)`
                : ""
          }`,
          `key       ${keyText(report)}`,
          report.accounts.length === 0
            ? "no accounts with credentials yet"
            : table(
                ["ACCOUNT", "GENERATION", "KEY", "STORED"],
                report.accounts.map((a) => [a.account, String(a.generation), a.keyId, absoluteTime(a.updatedAt)]),
              ),
          ...report.stuckClaims.map(
            (c) =>
              `${c.kind === "in-doubt" ? "in doubt" : "long held"}: ${c.account} generation ${c.generation} ` +
              `(attempt ${c.attempt}) by pid ${c.pid} on ${c.host}, ${c.ageSeconds} s ago`,
          ),
        ].join("\n");
    yield* Effect.sync(() => {
      process.stdout.write(`${text}\n`);
      if (problem) process.exitCode = 2;
    });
  }),
).pipe(
  Command.withDescription("Show the shared store: server, schema version, key, accounts, stuck claims"),
  Command.withExamples([
    { command: "baton store status", description: "is this machine's BATON_STORE and key right?" },
    { command: "baton store status --json", description: "the same, machine-readable" },
  ]),
);

const rotateKey = Command.make(
  "rotate-key",
  {
    toKeyFile: Flag.String("to-key-file").pipe(
      Flag.withDescription("the new key, in a file written like BATON_STORE_KEY_FILE's (mode 0600)"),
      Flag.optional,
    ),
    generateKey: Flag.String("generate-key").pipe(
      Flag.withDescription("write a new random key to this new file (mode 0600) and rotate to it"),
      Flag.optional,
    ),
    json: jsonFlag,
  },
  ({ toKeyFile, generateKey, json }) =>
    Effect.gen(function* () {
      const store = yield* sharedStore;
      if (Option.isSome(toKeyFile) === Option.isSome(generateKey)) {
        return yield* new InvalidInput({
          reason: "argument",
          message: "give the new key with --to-key-file FILE, or make one with --generate-key FILE (one of them)",
        });
      }
      const keyFile = Option.isSome(toKeyFile) ? toKeyFile.value : Option.getOrThrow(generateKey);
      const key = Option.isSome(toKeyFile)
        ? StoreKey.keyFromFile(keyFile, "--to-key-file")
        : yield* generatedKeyFile(keyFile);
      if (key instanceof InvalidInput) return yield* key;
      const rotated = yield* PostgresKeyRotation.rotateKey(store, key).pipe(
        Effect.mapError((error) => {
          if (Option.isNone(generateKey)) return error;
          const message = `${error.message} (the new key stays in ${keyFile})`;
          return error._tag === "InvalidInput"
            ? new InvalidInput({ reason: error.reason, message })
            : new Retryable({ account: error.account, reason: error.reason, message });
        }),
      );
      const text = json
        ? JSON.stringify({ version: 1, server: store.where, ...rotated, keyFile }, null, 2)
        : rotated.unchanged
          ? `the baton store at ${store.where} is sealed with key ${rotated.to} already: nothing to do`
          : [
              `the baton store at ${store.where} is sealed with key ${rotated.to} now (was ${rotated.from}): ` +
                `${rotated.secrets} secret(s)${rotated.registry ? " and the provider registry" : ""} re-sealed`,
              `set BATON_STORE_KEY_FILE=${keyFile} (or BATON_STORE_KEY) on every machine, and restart what still runs ` +
                `with key ${rotated.from} (brokers, embedding hosts): until then they lend what they hold and refresh nothing`,
            ].join("\n");
      yield* Effect.sync(() => process.stdout.write(`${text}\n`));
    }),
).pipe(
  Command.withDescription("Re-seal every secret of the shared store with a new key, in one transaction"),
  Command.withExamples([
    {
      command: "baton store rotate-key --generate-key ~/.baton-store.next.key",
      description: "a new key file, and the store sealed with it (BATON_STORE_KEY_FILE: the current key)",
    },
    { command: "baton store rotate-key --to-key-file /run/secrets/baton-store-key", description: "to a key you made" },
  ]),
);

export const storeCommand = Command.make("store").pipe(
  Command.withDescription("The PostgreSQL store shared by many machines (BATON_STORE)"),
  Command.withSubcommands([init, status, rotateKey]),
);
