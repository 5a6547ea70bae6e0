/**
 * The Promise facade for hosts that do not use Effect: `createBaton({ home, storage })` — or `createBaton({ store })`
 * for a PostgreSQL store shared by many machines — runs on the same wiring as the CLI (`NodeBaton.layer`, the
 * composition root), prefetches the named accounts' secrets in parallel, registers the host as an active session of each account it uses, and keeps tokens fresh in
 * the background. `accessToken(ref)` answers from memory while the token is fresh (no I/O, no Effect runtime on that
 * path) and otherwise runs the cross-process refresh protocol, cooperating with CLI processes on the same store.
 */

import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import {
  type AccountRef,
  type AccountStatus,
  accountKey,
  accountStatus,
  allAccounts,
  type BatonError,
  type CredentialsSummary,
  DEFAULT_THRESHOLD_MS,
  describeCredentials,
  EventStore,
  effectiveThreshold,
  InvalidInput,
  ProviderDirectory,
  parseAccountInput,
  RefreshSettings,
  Sessions,
  Tokens,
} from "@baton/core";
import { Effect, Exit, Fiber, ManagedRuntime, PubSub, Scope } from "effect";
import * as BrokerClient from "../broker/client.ts";
import { connectionFromSettings } from "../broker/index.ts";
import type { BrokerConnection } from "../broker/request.ts";
import * as NodeBaton from "../composition/node-baton.ts";
import { ProviderRegistry } from "../config/index.ts";
import { FileLock, NodeHostIdentity, resolveHome } from "../file/index.ts";
import { OAuthHttp } from "../oauth/index.ts";
import { BackgroundRefresh } from "./background-refresh.ts";

export interface CreateBatonOptions {
  /** Where baton keeps its state (default: BATON_HOME, else the OS convention). */
  readonly home?: string;
  /**
   * Where secrets live: the OS keychain or 0600 files under `home` (an explicit choice). Default: BATON_STORAGE, else
   * the keychain — what the user's `baton` commands use.
   */
  readonly storage?: NodeBaton.SecretStorage;
  /**
   * A PostgreSQL store shared by many machines (`postgres://…` or `postgresql://…`) instead of `home`: the registry,
   * secrets, events, claims and sessions live there. Default: BATON_STORE. Its key: `storeKey` (64 hex digits or
   * base64), default BATON_STORE_KEY, else the file named by BATON_STORE_KEY_FILE. `createBaton` rejects with the
   * store's error (a wrong key, a newer schema: `InvalidInput`; unreachable: `Retryable`) before anything is sent.
   */
  readonly store?: string;
  readonly storeKey?: string;
  /** Refresh when less than this remains (default 5 minutes; adapted to short lifetimes). */
  readonly thresholdMs?: number;
  /** Accounts (`PROVIDER:ACCOUNT`) whose secrets are read in parallel at creation. */
  readonly prefetch?: ReadonlyArray<string>;
  /** Refresh in the background before expiry (default true). */
  readonly backgroundRefresh?: boolean;
  /**
   * Receives every log line of baton's work for this host — `debug` decisions, `warn`ings (a repaired file mode, a
   * store problem) — with its level; no secrets in them. Without it, Effect's default logger prints `info` and above.
   */
  readonly logger?: (level: string, message: string) => void;
  /**
   * A broker to borrow tokens from instead of a store here: `unix:PATH` or `https://HOST:PORT`, or a comma-separated
   * list of the brokers of one store, asked in order while one is unreachable (default: BATON_SERVER). `home`,
   * `storage`, `thresholdMs`'s background use and `backgroundRefresh` then do not apply.
   */
  readonly server?: string;
  /** The client token for `server` (default: BATON_SERVER_TOKEN). */
  readonly serverToken?: string;
}

/** A secret-free lifecycle event. */
export type BatonEvent =
  | {
      readonly type: "credentials";
      readonly account: string;
      readonly how: "refreshed" | "adopted";
      readonly summary: CredentialsSummary;
    }
  | { readonly type: "background-error"; readonly account: string; readonly error: BatonError | Error };

export interface Baton {
  /** A valid access token for `PROVIDER:ACCOUNT` (or `PROVIDER`'s default account). */
  accessToken(ref: string): Promise<string>;
  /** Secret-free status of one account, or of every account. */
  status(ref?: string): Promise<ReadonlyArray<AccountStatus>>;
  /** Forces a refresh (one rotation across every process sharing the store). */
  refresh(ref: string): Promise<CredentialsSummary>;
  /** Listens to lifecycle events; returns the unsubscribe function. */
  subscribe(listener: (event: BatonEvent) => void): () => void;
  /** Stops timers and watchers, unregisters the sessions. */
  close(): Promise<void>;
}

/**
 * The brokers `options` (or the environment) name, each with a kept-alive connection of its own; `undefined` for a
 * local store. The connection remembers the broker that answered last, asked first by the next request.
 */
const brokerConnection = (options: CreateBatonOptions): BrokerConnection | undefined => {
  const named = options.server !== undefined;
  const settings = connectionFromSettings(
    options.server ?? process.env.BATON_SERVER,
    options.serverToken ?? process.env.BATON_SERVER_TOKEN,
    { server: named ? "server" : "BATON_SERVER" },
  );
  if (settings instanceof InvalidInput) throw settings;
  if (settings === undefined) return undefined;
  const brokers = settings.brokers.map(({ address }) => ({
    address,
    agent: address.kind === "https" ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true }),
  }));
  return { ...settings, brokers };
};

const failNoDefault = (provider: string): never => {
  throw new InvalidInput({ reason: "argument", message: `${provider} has no default account; name one` });
};

export const createBaton = async (options: CreateBatonOptions = {}): Promise<Baton> => {
  const home = options.home ?? resolveHome();
  const broker = brokerConnection(options);
  const backend: NodeBaton.Backend | InvalidInput =
    broker !== undefined
      ? { kind: "broker", connection: broker }
      : NodeBaton.backendFromEnvironment(
          {
            home,
            ...(options.storage === undefined ? {} : { storage: options.storage }),
            ...(options.store === undefined ? {} : { store: options.store }),
            ...(options.storeKey === undefined ? {} : { storeKey: options.storeKey }),
          },
          process.env,
        );
  if (backend instanceof InvalidInput) throw backend;
  const machine = NodeHostIdentity.machineNameFromEnvironment(process.env);
  if (machine instanceof InvalidInput) throw machine;
  const thresholdMs = options.thresholdMs ?? DEFAULT_THRESHOLD_MS;
  const { logger } = options;
  const runtime = ManagedRuntime.make(
    NodeBaton.layer({
      backend,
      ...(machine === undefined ? {} : { machine }),
      ...(logger === undefined
        ? {}
        : { logger: NodeBaton.lineLogger((line) => logger(line.level, line.text)), minimumLogLevel: "Debug" }),
    }),
  );
  // A long-running host keeps a rotation it could not store for as long as it lives (a CLI process: 10 minutes).
  const settings = { ...RefreshSettings.defaultValue(), thresholdMs, persistRetryMs: Number.POSITIVE_INFINITY };
  const run = <A, E>(effect: Effect.Effect<A, E, NodeBaton.Services>) =>
    runtime.runPromise(Effect.provideService(effect, RefreshSettings, settings));
  try {
    await run(NodeBaton.StoreBackend.use((store) => store.ready));
  } catch (error) {
    await runtime.dispose();
    throw error;
  }
  const tokens = await run(Tokens.Tokens.use(Effect.succeed));
  const sessionScope = await Effect.runPromise(Scope.make());
  const listeners = new Set<(event: BatonEvent) => void>();
  const emit = (event: BatonEvent) => {
    for (const listener of listeners) listener(event);
  };
  const refs = new Map<string, AccountRef>();
  const registered = new Set<string>();

  const resolve = async (ref: string): Promise<AccountRef> => {
    const known = refs.get(ref);
    if (known !== undefined) return known;
    const parsed = await Effect.runPromise(
      parseAccountInput(ref).pipe(Effect.mapError((e) => new InvalidInput({ reason: "argument", message: e.message }))),
    );
    const account =
      parsed.account !== undefined || broker !== undefined
        ? parsed.account
        : await run(ProviderRegistry.defaultAccount(parsed.provider));
    const resolved: AccountRef =
      account !== undefined
        ? { provider: parsed.provider, account }
        : broker !== undefined
          ? await run(BrokerClient.resolveAccount(broker, parsed.provider))
          : failNoDefault(parsed.provider);
    refs.set(ref, resolved);
    if (!registered.has(accountKey(resolved))) {
      registered.add(accountKey(resolved));
      await run(
        Sessions.use((sessions) => sessions.register(resolved, "embedded")).pipe(Scope.provide(sessionScope)),
      ).catch(() => undefined);
    }
    return resolved;
  };

  const background =
    options.backgroundRefresh === false || broker !== undefined
      ? undefined
      : new BackgroundRefresh({
          thresholdMs,
          random: Math.random,
          now: Date.now,
          refresh: async (key) => run(tokens.refresh(await resolve(key))),
          onError: (account, error) => emit({ type: "background-error", account, error: error as BatonError }),
        });

  // Every generation this process stores or adopts re-arms the background timer and reaches subscribers.
  const subscription = Effect.runFork(
    Effect.scoped(
      Effect.gen(function* () {
        const changes = yield* PubSub.subscribe(tokens.changes);
        while (true) {
          const change = yield* PubSub.take(changes);
          background?.schedule(change.account, change.summary);
          emit({ type: "credentials", account: change.account, how: change.how, summary: change.summary });
        }
      }),
    ),
  );

  const prefetched = await Promise.all(
    (options.prefetch ?? []).map(async (ref) => {
      const account = await resolve(ref);
      await run(tokens.prime(account));
      return account;
    }),
  );
  // The first refresh this host makes holds the account lock while other processes wait for it, and a process's first
  // run of that path is its slowest (modules to load, code V8 compiles on first call, parsers built on first decode).
  // Once the host's own start-up is done, do the parts of it that change nothing: load the HTTP machinery and the lock
  // library, fold the prefetched accounts' events and read their providers' profiles.
  setImmediate(() => {
    if (broker !== undefined) return;
    try {
      OAuthHttp.preloadTransport();
      FileLock.preloadLockfile();
    } catch {
      // Reported by the refresh that needs it.
    }
    const warmUp = Effect.forEach(
      prefetched,
      (account) =>
        Effect.all([
          EventStore.use((events) => events.fold(account, thresholdMs, "read")),
          ProviderDirectory.use((providers) => providers.get(account.provider)),
        ]),
      { discard: true },
    );
    run(warmUp).catch(() => undefined);
  }).unref();

  return {
    accessToken: async (ref) => {
      const account = refs.get(ref) ?? (await resolve(ref));
      const cached = tokens.peek(account);
      // The hot path: a fresh cached token, no I/O and no Effect runtime.
      if (cached !== undefined) {
        const remaining = cached.expiresAt - Date.now();
        if (remaining > effectiveThreshold(cached.expiresAt - cached.obtainedAt, thresholdMs))
          return cached.accessToken;
      }
      return run(tokens.accessToken(account));
    },
    status: async (ref) => {
      if (broker !== undefined) return run(BrokerClient.status(broker, ref));
      const accounts = ref === undefined ? await run(allAccounts) : [await resolve(ref)];
      return run(Effect.forEach(accounts, accountStatus, { concurrency: 16 }));
    },
    refresh: async (ref) => describeCredentials(await run(tokens.refresh(await resolve(ref)))),
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: async () => {
      background?.close();
      listeners.clear();
      await Effect.runPromise(Fiber.interrupt(subscription));
      await Effect.runPromise(Scope.close(sessionScope, Exit.void));
      await runtime.dispose();
      for (const each of broker?.brokers ?? []) each.agent?.destroy();
    },
  };
};
