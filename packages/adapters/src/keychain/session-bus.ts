/**
 * A non-blocking check that the D-Bus session bus answers, run before @napi-rs/keyring builds an entry on Linux.
 *
 * Why: the `Entry`/`AsyncEntry` constructors connect to the session bus synchronously (libdbus, ~5 ms measured). A bus
 * socket that accepts but never answers (a hung or stale session) would block the event loop inside the constructor,
 * where no timeout can fire (measured: 60 s and counting). So, before the first construction, this module opens the
 * bus socket from Node and performs the first step of the D-Bus SASL handshake (`AUTH EXTERNAL`), with the caller's
 * abort signal. Any answer means the bus is alive; a connection error or silence becomes a {@link KeychainProblem}
 * with reason `unavailable` and a message that says what to do. Only `unix:path=` and `unix:abstract=` addresses
 * are checked; other transports (tcp, launchd...) are left to the library.
 * @see https://dbus.freedesktop.org/doc/dbus-specification.html#auth-protocol
 */
import type { StoreFailure } from "@baton/core";

/** A keychain failure already classified; `secret-store.ts` turns it into a `StoreFailure`. */
export class KeychainProblem extends Error {
  readonly reason: StoreFailure["reason"];
  constructor(reason: StoreFailure["reason"], message: string) {
    super(message);
    this.reason = reason;
  }
}

/** Where to fall back when the keychain cannot be used (SPEC §4: file storage is an explicit choice). */
export const FALLBACK_HINT = "run under a desktop session with an unlocked keyring, or set BATON_STORAGE=file";

/** D-Bus address values escape bytes as `%XX`. */
const unescapeAddress = (value: string): string =>
  value.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));

/** The socket path to check in a D-Bus address (abstract sockets start with NUL), or `undefined` for other transports. */
export const socketOf = (address: string): string | undefined => {
  for (const entry of address.split(";")) {
    const colon = entry.indexOf(":");
    if (colon < 0 || entry.slice(0, colon) !== "unix") continue;
    for (const pair of entry.slice(colon + 1).split(",")) {
      const equals = pair.indexOf("=");
      const key = pair.slice(0, equals);
      const value = unescapeAddress(pair.slice(equals + 1));
      if (key === "path") return value;
      if (key === "abstract") return `\0${value}`;
    }
  }
  return undefined;
};

const readable = (socket: string): string => (socket.startsWith("\0") ? `@${socket.slice(1)}` : socket);

/**
 * Resolves when the session bus named by `DBUS_SESSION_BUS_ADDRESS` answers the handshake (or cannot be checked);
 * rejects with a `KeychainProblem` (`unavailable`) when it refuses the connection. Never settles while the bus is
 * silent: the caller bounds it with its timeout, and the socket is closed when `signal` aborts.
 */
export const checkSessionBus = (address: string | undefined, signal: AbortSignal | undefined): Promise<void> => {
  if (address === undefined || address === "") return Promise.resolve();
  const path = socketOf(address);
  if (path === undefined) return Promise.resolve();
  // `node:net` is loaded only when a bus is to be checked, not by every command that loads the adapters.
  return import("node:net").then(
    ({ connect }) =>
      new Promise<void>((resolve, reject) => {
        const socket = connect({ path });
        let answer = "";
        const finish = (error?: Error) => {
          signal?.removeEventListener("abort", onAbort);
          socket.destroy();
          if (error === undefined) resolve();
          else reject(error);
        };
        const onAbort = () => finish(new KeychainProblem("unavailable", "the D-Bus session bus check was cancelled"));
        if (signal?.aborted === true) return onAbort();
        signal?.addEventListener("abort", onAbort, { once: true });
        socket.on("connect", () => {
          const uid = typeof process.getuid === "function" ? String(process.getuid()) : "0";
          socket.write(`\0AUTH EXTERNAL ${Buffer.from(uid, "ascii").toString("hex")}\r\n`);
        });
        socket.on("data", (chunk: Buffer) => {
          answer += chunk.toString("latin1");
          if (answer.includes("\r\n")) finish();
        });
        socket.on("error", (error: NodeJS.ErrnoException) =>
          finish(
            new KeychainProblem(
              "unavailable",
              `no D-Bus session bus at ${readable(path)} (${error.code ?? error.message}), so no Secret Service ` +
                `can be reached: ${FALLBACK_HINT}`,
            ),
          ),
        );
        socket.on("end", () => finish());
      }),
  );
};
