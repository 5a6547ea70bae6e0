/**
 * The OS keychain secret store (kind "keychain"): one stable keychain item per account — service "baton", account
 * name "PROVIDER:ACCOUNT" (the Secret Service attributes `service` and `username`) — whose password is the JSON
 * credentials record of the current generation.
 *
 * - Writes are compare-and-set on the generation (I2): the item is read, the write fails with `GenerationConflict`
 *   unless its generation is the expected one and the new generation is higher, then the password of the same item is
 *   replaced (never delete + re-create, so no reader sees the account empty and no failure blanks it, I4). A write
 *   returns once the keychain confirmed it (I3). Check-and-replace is serialised per account inside the process (a
 *   mutex shared by every layer instance); across processes the protocol writes only under the account lock and the
 *   generation's claim.
 * - No cache: every `read` asks the keychain (~1 ms on gnome-keyring), so reads the protocol makes under the lock see
 *   the latest generation; the protocol keeps tokens in memory itself.
 * - A record that is not JSON or fails the `Credentials` schema is reported as `StoreFailure` reason `corrupt`,
 *   naming the item. It is NOT deleted: the item stays in the keychain, untouched, for diagnosis; `remove` (logout)
 *   deletes it without reading it (a later login continues the account's generations from its event stream).
 * - The port's `probe(account)` writes, reads back and deletes a transient item of the same service (named
 *   `probe-<pid>-<random>`, never an account name), so a login fails before the browser step when the keychain is
 *   locked or gone.
 * - Every keychain call is bounded by `timeoutMs` (default 45 s, long enough for a user to answer an unlock prompt).
 *   On expiry the call fails with reason `unavailable` explaining that the keychain may be locked or prompting. The
 *   abandoned native call may still complete later; at worst it stores the very record that timed out.
 * - `list` uses the library's `findCredentials(service)` (a search on the service attribute) rather than an index
 *   item: nothing to keep in sync, and no index to corrupt. Item names that are not account references are ignored.
 * - `probe` tells whether a keychain is usable at all (write, read back, delete an item of service "baton-probe").
 * Messages never contain a token: only service and account names and the keychain's own error text.
 */
import { randomBytes } from "node:crypto";
import {
  type AccountRef,
  accountKey,
  type Credentials,
  GenerationConflict,
  isValidName,
  parseCredentialsRecord,
  SecretStore,
  type SecretStoreShape,
  StoreFailure,
} from "@baton/core";
import { Duration, Effect, Layer } from "effect";
import { withMutex } from "../file/fs-effect.ts";
import { classify, type KeyringBackend, napiBackend } from "./native.ts";

export interface KeychainSecretStoreOptions {
  /** The keychain service name of the items. Default "baton". */
  readonly service?: string;
  /** Bound of every keychain call, in milliseconds. Default 45 000. */
  readonly timeoutMs?: number;
  /** There is deliberately no on-disk cache: secrets never leave the keychain. */
  readonly cacheDir?: never;
}

export const DEFAULT_SERVICE = "baton";
export const DEFAULT_TIMEOUT_MS = 45_000;

/** Parses an item's account name back into a reference; `undefined` for anything that is not `PROVIDER:ACCOUNT`. */
const parseKey = (key: string): AccountRef | undefined => {
  const [provider, account, ...rest] = key.split(":");
  if (provider === undefined || account === undefined || rest.length > 0) return undefined;
  return isValidName(provider) && isValidName(account) ? { provider, account } : undefined;
};

/**
 * Runs one keychain call, bounded by `timeoutMs`: a rejection becomes a classified `StoreFailure` prefixed with
 * `action` and `what`; silence past the bound becomes reason `unavailable`.
 */
const keychainCall = <A>(
  timeoutMs: number,
  action: string,
  what: string,
  body: (signal: AbortSignal) => Promise<A>,
): Effect.Effect<A, StoreFailure> =>
  Effect.tryPromise({
    try: (signal) => body(signal),
    catch: (error) => {
      const problem = classify(error);
      return new StoreFailure({ reason: problem.reason, message: `could not ${action} ${what}: ${problem.message}` });
    },
  }).pipe(
    Effect.timeoutOrElse({
      duration: Duration.millis(timeoutMs),
      orElse: () =>
        Effect.fail(
          new StoreFailure({
            reason: "unavailable",
            message:
              `could not ${action} ${what}: the keychain did not answer within ${timeoutMs / 1000} s. It may be ` +
              "locked and waiting for an unlock or access prompt, or its service is hung: unlock it and try again, " +
              "or set BATON_STORAGE=file",
          }),
        ),
    }),
  );

/** The store over any backend (tests pass a fake one). */
export const makeWith = (backend: KeyringBackend, options: KeychainSecretStoreOptions = {}): SecretStoreShape => {
  const service = options.service ?? DEFAULT_SERVICE;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const itemName = (key: string) => `the keychain item (service "${service}", account "${key}")`;
  const call = <A>(action: string, what: string, body: (signal: AbortSignal) => Promise<A>) =>
    keychainCall(timeoutMs, action, what, body);

  const readKey = (key: string): Effect.Effect<Credentials | undefined, StoreFailure> =>
    call("read", itemName(key), (signal) => backend.get(key, signal)).pipe(
      Effect.flatMap((text) => {
        if (text === null) return Effect.succeed(undefined);
        const parsed = parseCredentialsRecord(text);
        if ("ok" in parsed) return Effect.succeed(parsed.ok);
        const inspect =
          process.platform === "linux"
            ? `\`secret-tool search service ${service} username ${key}\``
            : "your keychain tool (Keychain Access, Credential Manager)";
        return Effect.fail(
          new StoreFailure({
            reason: "corrupt",
            message:
              `${itemName(key)} ${parsed.problem}. It was left in place, untouched; inspect it with ${inspect}. ` +
              `\`baton logout ${key}\` deletes it, then log in again (run \`baton doctor\` for details)`,
          }),
        );
      }),
    );

  const read = (account: AccountRef) => readKey(accountKey(account));

  const write = (
    account: AccountRef,
    next: Credentials,
    expectedGeneration: number,
  ): Effect.Effect<void, StoreFailure | GenerationConflict> => {
    const key = accountKey(account);
    return Effect.gen(function* () {
      const found = (yield* readKey(key))?.generation ?? 0;
      if (found !== expectedGeneration || next.generation <= found) {
        return yield* Effect.fail(new GenerationConflict({ account: key, expected: expectedGeneration, found }));
      }
      const record = JSON.stringify(next);
      yield* call("write", itemName(key), (signal) => backend.set(key, record, signal));
    }).pipe(withMutex(`keychain\0${service}\0${key}`));
  };

  const remove = (account: AccountRef): Effect.Effect<void, StoreFailure> => {
    const key = accountKey(account);
    return call("delete", itemName(key), (signal) => backend.delete(key, signal)).pipe(
      Effect.asVoid,
      withMutex(`keychain\0${service}\0${key}`),
    );
  };

  const list = (): Effect.Effect<ReadonlyArray<AccountRef>, StoreFailure> =>
    call("list", `the keychain items of service "${service}"`, (signal) => backend.keys(signal)).pipe(
      Effect.map((keys) =>
        [...new Set(keys)]
          .sort()
          .map(parseKey)
          .filter((ref): ref is AccountRef => ref !== undefined),
      ),
    );

  const probeStore = (): Effect.Effect<void, StoreFailure> =>
    probe({ service, timeoutMs, backend }).pipe(Effect.asVoid);

  return { kind: "keychain", read, write, probe: probeStore, remove, list };
};

/** The keychain store over @napi-rs/keyring. */
export const make = (options: KeychainSecretStoreOptions = {}): SecretStoreShape =>
  makeWith(napiBackend(options.service ?? DEFAULT_SERVICE), options);

/** The keychain secret store as a layer. Building it touches no keychain; use {@link probe} to check one first. */
export const layer = (options: KeychainSecretStoreOptions = {}): Layer.Layer<SecretStore> =>
  Layer.sync(SecretStore, () => SecretStore.of(make(options)));

/**
 * Checks that a keychain is usable: stores a random value in an item of service `<service>-probe` ("baton-probe" by
 * default), reads it back and deletes it (also when a step fails). Fails with `StoreFailure` reason `unavailable` and
 * a message that says why (no session bus, no Secret Service, locked, timed out) and what to do.
 */
export const probe = (
  options: Omit<KeychainSecretStoreOptions, "cacheDir"> & { readonly backend?: KeyringBackend } = {},
): Effect.Effect<void, StoreFailure> => {
  const service = `${options.service ?? DEFAULT_SERVICE}-probe`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return Effect.suspend(() => {
    const backend = options.backend ?? napiBackend(service);
    const key = `probe-${process.pid}-${randomBytes(4).toString("hex")}`;
    const value = randomBytes(16).toString("hex");
    const what = `a probe item (service "${service}")`;
    const check = (action: string, body: (signal: AbortSignal) => Promise<unknown>) =>
      keychainCall(timeoutMs, action, what, body).pipe(
        Effect.mapError((failure) =>
          failure.reason === "unavailable"
            ? new StoreFailure({ reason: "unavailable", message: `the keychain is unavailable: ${failure.message}` })
            : failure,
        ),
      );
    const readBack = check("read back", (signal) => backend.get(key, signal)).pipe(
      Effect.flatMap((stored) =>
        stored === value
          ? Effect.void
          : Effect.fail(
              new StoreFailure({
                reason: "unavailable",
                message: `the keychain is unusable: ${what} read back ${stored === null ? "nothing" : "a different value"} than was stored`,
              }),
            ),
      ),
    );
    // The probe item is deleted once it was written, bounded by 5 s so that a hung keychain cannot double the wait.
    const cleanup = keychainCall(Math.min(timeoutMs, 5_000), "delete", what, (signal) => backend.delete(key, signal));
    return check("write", (signal) => backend.set(key, value, signal)).pipe(
      Effect.andThen(readBack.pipe(Effect.ensuring(Effect.ignore(cleanup)))),
    );
  });
};
