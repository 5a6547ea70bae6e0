/**
 * Where `baton serve` listens, from its flags: a unix socket (default `<BATON_HOME>/serve/run/baton.sock`, 0600 in a
 * 0700 directory that holds nothing else, so a container can mount that directory) or TCP. TCP needs TLS
 * (`--tls-cert` and `--tls-key`); plain TCP is accepted only on a loopback address with `--insecure-loopback`, so no
 * token ever crosses a network in the clear. Every refusal is `InvalidInput` naming the flag.
 *
 * Preparing a socket path: a stale socket left by a broker that died is removed (nothing answers on it); a socket a
 * live broker answers on, a symlink, or any other file there is refused — never replaced.
 */
import { chmodSync, lstatSync, mkdirSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { BrokerAddress } from "@baton/adapters";
import { InvalidInput } from "@baton/core";

/** The socket's directory below BATON_HOME: it holds only the socket, so it is what a container mounts. */
export const SOCKET_PARTS = ["serve", "run"] as const;
export const SOCKET_NAME = "baton.sock";

export const defaultSocketPath = (home: string): string => join(home, ...SOCKET_PARTS, SOCKET_NAME);

/** Unix socket paths are limited to 107 bytes on Linux (sun_path), 103 on macOS. */
const MAX_SOCKET_PATH = 103;

export type ListenPlan =
  | { readonly kind: "unix"; readonly path: string }
  | {
      readonly kind: "tcp";
      readonly host: string;
      readonly port: number;
      /** PEM text of the certificate chain and key; `undefined` on an insecure loopback listener. */
      readonly tls: { readonly cert: Buffer; readonly key: Buffer } | undefined;
    };

export interface ListenFlags {
  readonly listen: string | undefined;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  readonly insecureLoopback: boolean;
}

const argument = (message: string) => new InvalidInput({ reason: "argument", message });

const readPem = (flag: string, path: string): Buffer | InvalidInput => {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : "error";
    return argument(`${flag}: cannot read ${path} (${code})`);
  }
};

/** `HOST:PORT` or `[IPV6]:PORT`; `undefined` when it is neither. */
const hostAndPort = (text: string): { readonly host: string; readonly port: number } | undefined => {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port > 65_535) return undefined;
  return { host: match[1] ?? match[2] ?? "", port };
};

/** What the flags ask for, or why they cannot be served. */
export const listenPlan = (home: string, flags: ListenFlags): ListenPlan | InvalidInput => {
  const tlsGiven = flags.tlsCert !== undefined || flags.tlsKey !== undefined;
  if (flags.listen === undefined || flags.listen.startsWith("unix:")) {
    if (tlsGiven || flags.insecureLoopback) {
      return argument("--tls-cert, --tls-key and --insecure-loopback are for a TCP listener (--listen HOST:PORT)");
    }
    const path = flags.listen === undefined ? defaultSocketPath(home) : flags.listen.slice("unix:".length);
    if (!path.startsWith("/")) return argument(`--listen: unix:PATH needs an absolute path, not "${path}"`);
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
      return argument(
        `the socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes, which unix sockets do not allow; choose a shorter one with --listen unix:PATH`,
      );
    }
    return { kind: "unix", path };
  }
  const target = hostAndPort(flags.listen);
  if (target === undefined) {
    return argument(`--listen: "${flags.listen}" is neither unix:PATH nor HOST:PORT (e.g. 0.0.0.0:8443, [::1]:8443)`);
  }
  if (!tlsGiven) {
    if (!flags.insecureLoopback) {
      return argument(
        "--listen HOST:PORT needs TLS: give --tls-cert FILE and --tls-key FILE (plain TCP only on a loopback address, with --insecure-loopback)",
      );
    }
    if (!BrokerAddress.isLoopbackHost(target.host)) {
      return argument(
        `--insecure-loopback: ${target.host} is not a loopback address; plain TCP never leaves 127.0.0.1`,
      );
    }
    return { kind: "tcp", ...target, tls: undefined };
  }
  if (flags.insecureLoopback) return argument("--insecure-loopback and TLS exclude each other: choose one");
  if (flags.tlsCert === undefined || flags.tlsKey === undefined) {
    return argument("TLS needs both --tls-cert FILE and --tls-key FILE");
  }
  const cert = readPem("--tls-cert", flags.tlsCert);
  if (cert instanceof InvalidInput) return cert;
  const key = readPem("--tls-key", flags.tlsKey);
  if (key instanceof InvalidInput) return key;
  return { kind: "tcp", ...target, tls: { cert, key } };
};

/** What clients put in BATON_SERVER to reach `plan` listening on `port` (the actual port when 0 was asked). */
export const clientAddress = (plan: ListenPlan, port: number): string => {
  if (plan.kind === "unix") return `unix:${plan.path}`;
  const host = plan.host.includes(":") ? `[${plan.host}]` : plan.host;
  return `${plan.tls === undefined ? "http" : "https"}://${host}:${port}`;
};

/** Whether something accepts connections on the unix socket `path` (a live broker). */
const answers = (path: string): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ path });
    const done = (live: boolean) => {
      socket.destroy();
      resolve(live);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.setTimeout(1_000, () => done(true));
  });

/**
 * Makes `path` free for a new socket: its directory exists (created 0700 when missing), a stale socket is removed.
 * Resolves with the warnings to log (a directory others can enter), or rejects with `InvalidInput`.
 */
export const prepareSocketPath = async (path: string): Promise<ReadonlyArray<string>> => {
  const warnings: Array<string> = [];
  const directory = dirname(path);
  const existingDirectory = statSync(directory, { throwIfNoEntry: false });
  if (existingDirectory === undefined) {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    chmodSync(directory, 0o700);
  } else if (!existingDirectory.isDirectory()) {
    throw argument(`${directory} is not a directory; the socket needs one`);
  } else if ((existingDirectory.mode & 0o077) !== 0) {
    warnings.push(
      `${directory} can be entered by other users (mode ${(existingDirectory.mode & 0o777).toString(8)}); the socket itself is 0600`,
    );
  }
  const existing = (() => {
    try {
      return lstatSync(path);
    } catch {
      return undefined;
    }
  })();
  if (existing === undefined) return warnings;
  if (existing.isSymbolicLink()) throw argument(`${path} is a symbolic link; baton does not listen through links`);
  if (!existing.isSocket()) throw argument(`${path} exists and is not a socket; remove it or choose another path`);
  if (await answers(path)) {
    throw argument(`a broker already answers on ${path}; stop it first (or choose another --listen)`);
  }
  unlinkSync(path);
  warnings.push(`removed the stale socket ${path} (no broker answered on it)`);
  return warnings;
};
