/**
 * The OS keychain behind a small Promise interface ({@link KeyringBackend}), implemented with @napi-rs/keyring 2.1
 * (macOS Keychain, Windows Credential Manager, the Secret Service on Linux). The secret store adds compare-and-set,
 * timeouts and schemas on top; tests substitute a fake backend to exercise those without a keychain.
 *
 * - The async API (`AsyncEntry`, `findCredentialsAsync`) runs every keychain call off the event loop, so a prompting
 *   keychain never blocks the process. Only the entry constructor is synchronous (it connects to D-Bus, ~5 ms); entries
 *   are therefore built once per account and cached, and on Linux the session bus is checked without blocking first
 *   (see session-bus.ts). A cached entry is dropped after an `unavailable` failure, so the next call reconnects.
 * - On Linux, entries are pinned to the Secret Service (`linux.store: "secret-service"`). Left to its default, the
 *   library silently falls back to the kernel keyutils keyring, which lives in memory and is lost on reboot: that would
 *   break "durable before use" (I3) and replace an unavailable keychain silently (SPEC §4 forbids both).
 * - Errors are classified into {@link KeychainProblem}s whose messages say what to do. They carry the library's
 *   message (service and attribute names, D-Bus errors), never a password.
 */
import type { AsyncEntry, EntryOptions } from "@napi-rs/keyring";
import { checkSessionBus, FALLBACK_HINT, KeychainProblem } from "./session-bus.ts";

/** One keychain service (e.g. "baton"): items keyed by account name, holding a string. */
export interface KeyringBackend {
  /** The item's password, or `null` when there is no item. */
  readonly get: (key: string, signal: AbortSignal) => Promise<string | null>;
  /** Creates the item or replaces the password of the existing one (same item, never delete + create). */
  readonly set: (key: string, value: string, signal: AbortSignal) => Promise<void>;
  /** Deletes the item; `false` when there was none. */
  readonly delete: (key: string, signal: AbortSignal) => Promise<boolean>;
  /** The account names of every item of the service. */
  readonly keys: (signal: AbortSignal) => Promise<ReadonlyArray<string>>;
}

const ENTRY_OPTIONS: EntryOptions = { linux: { store: "secret-service" } };

const UNLOCK_HINT = "unlock it (for example by logging in to the desktop session), or set BATON_STORAGE=file";

/** Turns whatever the library threw into a classified problem with advice. Never includes a secret. */
export const classify = (error: unknown): KeychainProblem => {
  if (error instanceof KeychainProblem) return error;
  const text = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim().slice(0, 300);
  const problem = (reason: KeychainProblem["reason"], message: string) => new KeychainProblem(reason, message);
  if (/ambiguous/i.test(text)) {
    return problem(
      "corrupt",
      `more than one keychain item matches (${text}); remove the duplicates with your keychain tool`,
    );
  }
  if (/ServiceUnknown|not provided by any|org\.freedesktop\.secrets/i.test(text)) {
    return problem("unavailable", `no Secret Service on the session bus (${text}): ${FALLBACK_HINT}`);
  }
  if (/autolaunch|DBUS_SESSION_BUS_ADDRESS|failed to connect|connect to socket|connect to address/i.test(text)) {
    return problem("unavailable", `no D-Bus session bus is reachable (${text}): ${FALLBACK_HINT}`);
  }
  if (/prompt was dismissed|IsLocked|locked/i.test(text)) {
    return problem(
      "unavailable",
      `the keychain is locked and could not be unlocked (no unlock prompt could be shown, or it was dismissed; ${text}): ${UNLOCK_HINT}`,
    );
  }
  if (/no result found/i.test(text)) {
    return problem(
      "unavailable",
      `the Secret Service has no default keyring to store items in (${text}): create or unlock a login keyring, or set BATON_STORAGE=file`,
    );
  }
  if (/platform storage|NoStorageAccess|denied|not allowed|interaction/i.test(text)) {
    return problem("unavailable", `the keychain refused access (${text}): ${UNLOCK_HINT}`);
  }
  return problem("io", text);
};

/** The native module, loaded on first use only: processes that store secrets in files never load it. */
let nativeModule: Promise<typeof import("@napi-rs/keyring")> | undefined;
const native = () => {
  nativeModule ??= import("@napi-rs/keyring");
  return nativeModule;
};

/** The @napi-rs/keyring backend for `service`. */
export const napiBackend = (service: string): KeyringBackend => {
  const entries = new Map<string, AsyncEntry>();

  const entry = async (key: string, signal: AbortSignal): Promise<AsyncEntry> => {
    const cached = entries.get(key);
    if (cached !== undefined) return cached;
    if (process.platform === "linux") await checkSessionBus(process.env.DBUS_SESSION_BUS_ADDRESS, signal);
    if (signal.aborted) throw new KeychainProblem("unavailable", "cancelled");
    const { AsyncEntry } = await native();
    const made = new AsyncEntry(service, key, ENTRY_OPTIONS);
    entries.set(key, made);
    return made;
  };

  const run = async <A>(key: string | undefined, body: () => Promise<A>): Promise<A> => {
    try {
      return await body();
    } catch (error) {
      const problem = classify(error);
      if (key !== undefined && problem.reason === "unavailable") entries.delete(key);
      throw problem;
    }
  };

  return {
    get: (key, signal) => run(key, async () => (await entry(key, signal)).getPassword(signal)),
    set: (key, value, signal) => run(key, async () => (await entry(key, signal)).setPassword(value, signal)),
    delete: (key, signal) => run(key, async () => (await entry(key, signal)).deleteCredential(signal)),
    keys: (signal) =>
      run(undefined, async () => {
        if (process.platform === "linux") await checkSessionBus(process.env.DBUS_SESSION_BUS_ADDRESS, signal);
        // The library returns each item's password too; only the names are kept, the passwords are dropped here.
        const { findCredentialsAsync } = await native();
        const found = await findCredentialsAsync(service, null, signal);
        return found.map((credential) => credential.account);
      }),
  };
};
