/**
 * The broker: a long-running host over this machine's store (NodeBaton.layer's `home` backend) that lends access
 * tokens to its clients and never anything else. What it answers, apart from HTTP (api.ts):
 *
 * - a hand-out: the account's credentials from the protocol's `Tokens` (the in-process cache while fresh, else one
 *   flight per account, whatever the number of clients asking), reduced to the access token and its particulars, and
 *   recorded as a `hand-out` note (client, account, generation, access-token fingerprint, expiry) that `replay` shows;
 * - the account a reference names, the status document and the mapped hosts — each limited to the accounts the
 *   caller's client token may use.
 *
 * It keeps every account it serves fresh ahead of expiry: each generation it stores or adopts arms the embedded
 * host's timer (the facade's BackgroundRefresh: expiry − threshold − jitter, led by a tenth of the token's life, at
 * most 10 s, so the refresh is done before a client finds the token due), which refreshes under the protocol, so
 * clients practically never wait for a refresh; a retryable failure of that refresh is tried again with backoff. At
 * start it reads every account's credentials (and arms their timers); an account logged in later joins at its first
 * request. It registers itself as a session of each account it serves, and, as a long-running host, keeps a rotation
 * it could not store for as long as it lives.
 *
 * Several brokers may serve one store: the protocol makes their refreshes one per rotation (a timer's forced refresh
 * adopts a generation a sibling stored meanwhile), so a highly available pair needs nothing but a store both reach.
 */
import {
  BackgroundRefresh,
  type BrokerClient,
  BrokerWire,
  ClientRegistry,
  CredentialHosts,
  ProviderConfig,
  ProviderRegistry,
} from "@baton/adapters";
import {
  type AccountRef,
  accountFromKey,
  accountKey,
  allAccounts,
  type Credentials,
  EventStore,
  fingerprint,
  HostIdentity,
  RefreshSettings,
  Retryable,
  Sessions,
  Tokens,
} from "@baton/core";
import { Cause, Clock, Effect, Exit, PubSub, Scope } from "effect";
import type { AppServices } from "../composition.ts";
import { resolveAccount } from "../resolve.ts";
import { type StatusRow, statusRows } from "../status-view.ts";
import { handOutExpiry, rfc3339 } from "../wire/hand-out.ts";
import { tokenJson } from "../wire/token-json.ts";

/** Who asks: a registered client, or a caller on the unix socket without a client token. */
export interface Caller extends ClientRegistry.Client {}

/** The unix-socket caller that gave no client token (the socket's 0600 mode already limits who connects). */
export const LOCAL_CALLER: Caller = { name: "@local", accounts: undefined };

export type Outcome<A> = { readonly ok: A } | { readonly problem: BrokerWire.BrokerProblem };

export interface Broker {
  /** The registered client whose token `presented` is, `undefined` if none is. */
  readonly identify: (presented: string) => Promise<Outcome<Caller | undefined>>;
  readonly handOut: (caller: Caller, query: BrokerWire.TokenQuery) => Promise<Outcome<BrokerWire.HandOut>>;
  readonly resolve: (caller: Caller, ref: string) => Promise<Outcome<{ readonly account: string }>>;
  readonly status: (
    caller: Caller,
    ref: string | undefined,
  ) => Promise<Outcome<{ readonly version: 1; readonly accounts: ReadonlyArray<StatusRow> }>>;
  readonly hosts: (
    caller: Caller,
    tool: BrokerWire.HelperTool,
  ) => Promise<Outcome<{ readonly hosts: ReadonlyArray<BrokerClient.MappedHost> }>>;
  /**
   * Stops the timers and waits up to `graceMs` for background refreshes in progress (a rotation on the wire is stored
   * before the broker's services end with the command).
   */
  readonly close: (graceMs: number) => Promise<void>;
}

export interface BrokerOptions {
  /**
   * Told each problem worth logging (no secrets in them): a background refresh that failed (`about`: the account), or
   * a request that failed unexpectedly (a bug).
   */
  readonly onProblem?: (about: string, error: unknown) => void;
}

/**
 * How long before a token becomes due (less than the threshold left) the broker refreshes it: a refresh's round trip,
 * with room — a tenth of the token's life, at most 10 s — so that no client finds it due and waits.
 */
const refreshLead = (lifetimeMs: number): number => Math.min(10_000, lifetimeMs * 0.1);

/** A client waits at most this long; the thin client gives up after 30 s (broker/request.ts). */
const ANSWER_WITHIN_MS = 20_000;

const forbidden = (caller: Caller, account: string): BrokerWire.BrokerProblem => ({
  class: "forbidden",
  reason: "account",
  account,
  message: `client "${caller.name}" may not use ${account}; it may use ${caller.accounts?.join(", ") ?? "every account"} (the broker's admin changes that with \`baton serve client add\`)`,
});

/** What a failure of the protocol or the stores is, in the API's classes. */
export const problemOf = (error: unknown): BrokerWire.BrokerProblem | undefined => {
  if (typeof error !== "object" || error === null || !("_tag" in error)) return undefined;
  const message = "message" in error && typeof error.message === "string" ? error.message : String(error._tag);
  const reason = "reason" in error && typeof error.reason === "string" ? error.reason : String(error._tag);
  const account = "account" in error && typeof error.account === "string" ? { account: error.account } : {};
  switch (error._tag) {
    case "LoginRequired":
      return { class: "login-required", reason, message, ...account };
    case "Retryable":
      return {
        class: "retryable",
        reason,
        message,
        ...account,
        ...("retryAfterMs" in error && typeof error.retryAfterMs === "number"
          ? { retryAfterMs: error.retryAfterMs }
          : {}),
      };
    case "NotFound":
      return {
        class: "not-found",
        reason: "what" in error && typeof error.what === "string" ? error.what : reason,
        message,
      };
    case "InvalidInput":
      return { class: "invalid-input", reason, message };
    case "InvalidAccountRef":
      return { class: "invalid-request", reason: "account", message };
    case "StoreFailure":
      return { class: "retryable", reason: "store-unavailable", message };
    default:
      return undefined;
  }
};

const isProblem = (value: unknown): value is BrokerWire.BrokerProblem =>
  typeof value === "object" && value !== null && "class" in value && BrokerWire.isErrorClass(value.class);

const INTERNAL: BrokerWire.BrokerProblem = {
  class: "internal",
  reason: "bug",
  message: "the broker failed unexpectedly; its log says more",
};

/** The user name tools pair with an account's token: the host mapping's, the provider's, else `oauth2`. */
const usernameOf = (provider: ProviderConfig.StoredProvider | undefined, mapped: string | undefined): string =>
  mapped ?? provider?.username ?? ProviderConfig.DEFAULT_USERNAME;

/** Builds the broker over the command's services; its timers and subscriptions end with the enclosing scope. */
export const makeBroker = (options: BrokerOptions = {}) =>
  Effect.gen(function* () {
    const context = yield* Effect.context<AppServices>();
    const scope = yield* Scope.Scope;
    const tokens = yield* Tokens.Tokens;
    const host = yield* HostIdentity;
    const defaults = RefreshSettings.defaultValue();
    const { thresholdMs } = defaults;
    // A long-running host keeps a rotation it could not store for as long as it lives (a CLI process: 10 minutes).
    const settings = { ...defaults, persistRetryMs: Number.POSITIVE_INFINITY };
    const report = options.onProblem ?? (() => undefined);

    const runExit = <A, E>(effect: Effect.Effect<A, E, AppServices>) =>
      Effect.runPromiseExitWith(context)(Effect.provideService(effect, RefreshSettings, settings));

    /** The answer of `effect`, or the problem it failed with; a client waits at most ANSWER_WITHIN_MS. */
    const answer = async <A, E>(effect: Effect.Effect<A, E, AppServices>): Promise<Outcome<A>> => {
      const settled = runExit(effect).then((exit): Outcome<A> => {
        if (Exit.isSuccess(exit)) return { ok: exit.value };
        const failure = Cause.findErrorOption(exit.cause);
        const problem =
          failure._tag === "Some" ? (isProblem(failure.value) ? failure.value : problemOf(failure.value)) : undefined;
        if (problem === undefined) report("a request failed unexpectedly", Cause.squash(exit.cause));
        return { problem: problem ?? INTERNAL };
      });
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<Outcome<A>>((resolve) => {
        timer = setTimeout(
          () =>
            resolve({
              problem: {
                class: "retryable",
                reason: "lock-timeout",
                message: `the broker is still refreshing after ${ANSWER_WITHIN_MS / 1000} s; try again`,
                retryAfterMs: 1_000,
              },
            }),
          ANSWER_WITHIN_MS,
        );
      });
      try {
        return await Promise.race([settled, late]);
      } finally {
        clearTimeout(timer);
      }
    };

    // ------------------------------------------------------------------------------------------- keeping fresh

    const failures = new Map<string, number>();
    const retries = new Map<string, NodeJS.Timeout>();
    const refreshing = new Set<Promise<unknown>>();
    const refreshInBackground = (key: string): Promise<unknown> => {
      const done = runExit(tokens.refresh(accountFromKey(key))).then((exit) => {
        if (Exit.isSuccess(exit)) return;
        const error = Cause.squash(exit.cause);
        report(key, error);
        if (!(error instanceof Retryable)) return;
        // Not processed (refused, unreachable, busy): try again with backoff until a generation arrives.
        const attempt = (failures.get(key) ?? 0) + 1;
        failures.set(key, attempt);
        const delay = Math.max(error.retryAfterMs ?? 0, Math.min(60_000, 1_000 * 2 ** attempt));
        clearTimeout(retries.get(key));
        retries.set(key, setTimeout(() => void refreshInBackground(key), delay).unref());
      });
      refreshing.add(done);
      return done.finally(() => refreshing.delete(done));
    };
    const stopTimers = () => {
      background.close();
      for (const timer of retries.values()) clearTimeout(timer);
    };
    const background = new BackgroundRefresh({
      thresholdMs,
      leadMs: refreshLead,
      random: Math.random,
      now: Date.now,
      refresh: refreshInBackground,
      onError: report,
    });

    const sessions = new Set<string>();
    const serving = (account: AccountRef) =>
      Effect.suspend(() => {
        const key = accountKey(account);
        if (sessions.has(key)) return Effect.void;
        sessions.add(key);
        return Sessions.use((store) => store.register(account, "embedded")).pipe(
          Scope.provide(scope),
          Effect.catch(() => Effect.void),
        );
      });

    // Every generation the broker stores or adopts re-arms the account's timer (subscribed before the start-up reads).
    const changes = yield* PubSub.subscribe(tokens.changes);
    yield* Effect.forkScoped(
      Effect.gen(function* () {
        while (true) {
          const change = yield* PubSub.take(changes);
          failures.delete(change.account);
          clearTimeout(retries.get(change.account));
          background.schedule(change.account, change.summary);
        }
      }),
    );
    yield* Effect.addFinalizer(() => Effect.sync(stopTimers));

    // Start-up: read every account's credentials in parallel (arming their timers) and register as their session.
    const accounts = yield* allAccounts.pipe(Effect.provideService(RefreshSettings, settings));
    yield* Effect.forEach(
      accounts,
      (account) =>
        tokens.prime(account).pipe(
          Effect.flatMap((held) => (held === undefined ? Effect.void : serving(account))),
          Effect.catch((error) => Effect.sync(() => report(accountKey(account), error))),
        ),
      { concurrency: 16, discard: true },
    );

    // ------------------------------------------------------------------------------------------- answers

    const permitted = (caller: Caller, account: AccountRef) =>
      ClientRegistry.allows(caller, account)
        ? Effect.succeed(account)
        : Effect.fail(forbidden(caller, accountKey(account)));

    /** The hand-out of `credentials` to `caller`, recorded as a note. */
    const lend = (caller: Caller, account: AccountRef, credentials: Credentials, mappedUsername: string | undefined) =>
      Effect.gen(function* () {
        const provider = yield* ProviderRegistry.getProvider(account.provider).pipe(
          Effect.orElseSucceed(() => undefined),
        );
        const now = yield* Clock.currentTimeMillis;
        const key = accountKey(account);
        const accessFp = fingerprint(credentials.accessToken);
        yield* EventStore.use((events) =>
          events.note(account, {
            v: 1,
            kind: "hand-out",
            host: host.host,
            pid: host.pid,
            at: now,
            client: caller.name,
            generation: credentials.generation,
            accessFp,
            expiresAt: credentials.expiresAt,
          }),
        );
        yield* Effect.logDebug(
          `${key}: lent generation ${credentials.generation} (access ${accessFp}) to ${caller.name}`,
        );
        yield* serving(account);
        return {
          ...tokenJson(key, credentials, now),
          generation: credentials.generation,
          obtained_at: rfc3339(credentials.obtainedAt),
          username: usernameOf(provider, mappedUsername),
          cache_until: rfc3339(handOutExpiry(credentials, provider?.revokesAccessTokenOnRefresh ?? false)),
        } satisfies BrokerWire.HandOut;
      });

    /** The account and mapped user name a token query names. */
    const target = (query: BrokerWire.TokenQuery) =>
      Effect.gen(function* () {
        if ("account" in query) return { account: yield* resolveAccount(query.account), username: undefined };
        const mapped = yield* CredentialHosts.lookupCredentialHost(query.tool, query.host);
        if (mapped === undefined) {
          return yield* Effect.fail<BrokerWire.BrokerProblem>({
            class: "not-found",
            reason: "host",
            message: `the broker maps no ${query.tool} host ${query.host} to an account (\`baton host add ${query.tool} HOST REF\` on the broker's host)`,
          });
        }
        return { account: yield* resolveAccount(mapped.account), username: mapped.username };
      });

    const broker: Broker = {
      identify: (presented) =>
        answer(Effect.map(ClientRegistry.load, (registry) => ClientRegistry.identify(registry, presented))),
      handOut: (caller, query) =>
        answer(
          Effect.gen(function* () {
            const { account, username } = yield* target(query);
            yield* permitted(caller, account);
            const credentials = yield* tokens.credentials(account);
            return yield* lend(caller, account, credentials, username);
          }),
        ),
      resolve: (caller, ref) =>
        answer(
          Effect.gen(function* () {
            const account = yield* permitted(caller, yield* resolveAccount(ref));
            return { account: accountKey(account) };
          }),
        ),
      status: (caller, ref) =>
        answer(
          Effect.gen(function* () {
            // A named account is checked before anything about it is read: a limited client learns nothing of others.
            const named =
              ref === undefined ? undefined : accountKey(yield* permitted(caller, yield* resolveAccount(ref)));
            const rows = yield* statusRows(named);
            const allowed = rows.filter((row) => ClientRegistry.allows(caller, accountFromKey(row.account)));
            return { version: 1 as const, accounts: allowed };
          }),
        ),
      hosts: (caller, tool) =>
        answer(
          Effect.gen(function* () {
            const hosts: Array<BrokerClient.MappedHost> = [];
            for (const entry of yield* CredentialHosts.listCredentialHosts(tool)) {
              const mapped = yield* Effect.option(
                Effect.gen(function* () {
                  const account = yield* permitted(caller, yield* resolveAccount(entry.account));
                  return yield* ProviderRegistry.getProvider(account.provider);
                }),
              );
              if (mapped._tag === "Some")
                hosts.push({ host: entry.host, username: usernameOf(mapped.value, entry.username) });
            }
            return { hosts };
          }),
        ),
      close: async (graceMs) => {
        stopTimers();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.allSettled([...refreshing]),
          new Promise((resolve) => {
            timer = setTimeout(resolve, graceMs);
          }),
        ]);
        clearTimeout(timer);
      },
    };
    return { broker, accounts: accounts.length };
  });
