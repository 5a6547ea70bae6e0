/**
 * The refresh protocol, one situation at a time (SPEC §3 step 7, §6): each test sets up the in-memory world, runs one
 * or two simulated processes, and checks the outcome and the events recorded.
 */
import { Cause, Deferred, Effect, Exit, Layer, PubSub, Random } from "effect";
import { describe, expect, it } from "vitest";
import {
  type AccountRef,
  accountKey,
  type Credentials,
  Memory,
  ProtocolHooks,
  type ProtocolPoint,
  type ProviderProfile,
  RefreshSettings,
  replay,
  stateName,
  storeNewCredentials,
  Tokens,
} from "../src/index.ts";

const account: AccountRef = { provider: "sim", account: "work" };
const key = accountKey(account);

/** No jitter: backoffs are their minimum (a Retry-After, or none), so the tests are deterministic. */
const noJitter = { nextIntUnsafe: () => 0, nextDoubleUnsafe: () => 0 };

const setup = async (
  graceWindowSeconds = 0,
  options: {
    readonly introspection?: boolean;
    readonly rotation?: "strict" | "grace" | "none";
    readonly revokesAccessTokenOnRefresh?: boolean;
  } = {},
) => {
  const world = Memory.makeWorld();
  const server = new Memory.SimulatedServer();
  server.accessTtlSeconds = 3600;
  server.introspection = options.introspection ?? false;
  const profile: ProviderProfile = {
    name: "sim",
    issuer: server.issuer,
    clientId: "c",
    scope: "openid",
    graceWindowSeconds,
    deviceOnly: false,
    introspection: options.introspection ?? false,
    ...(options.rotation === undefined ? {} : { rotation: options.rotation }),
    ...(options.revokesAccessTokenOnRefresh === undefined
      ? {}
      : { revokesAccessTokenOnRefresh: options.revokesAccessTokenOnRefresh }),
  };
  const layer = (pid: number) => Memory.processLayer(world, server, pid, { profiles: [profile] });
  await Effect.runPromise(
    storeNewCredentials(account, profile, server.login("openid"), "login").pipe(Effect.provide(layer(1))),
  );
  const expire = () => {
    const current = world.secrets.get(key) as Credentials;
    world.secrets.set(key, { ...current, obtainedAt: 0, expiresAt: 1 });
  };
  const run = <A, E>(
    pid: number,
    f: (tokens: Tokens.TokensShape) => Effect.Effect<A, E>,
    hooks?: { readonly at: (point: ProtocolPoint) => Effect.Effect<void> },
  ) =>
    Effect.runPromiseExit(
      Effect.gen(function* () {
        return yield* f(yield* Tokens.Tokens);
      }).pipe(
        Effect.provide(Layer.fresh(Tokens.layer).pipe(Layer.provide(layer(pid)))),
        Effect.provideService(RefreshSettings, {
          ...RefreshSettings.defaultValue(),
          lockWaitMs: 300,
          watchFallbackMs: 20,
          persistRetryMs: 1_500,
          introspectAfterMs: 50,
        }),
        Effect.provideService(Random.Random, noJitter),
        Effect.provideService(ProtocolHooks, hooks ?? { at: () => Effect.void }),
      ),
    );
  const events = () => world.events.get(key) ?? [];
  return { world, server, profile, expire, run, events };
};

const errorOf = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit)
    ? Cause.findErrorOption(exit.cause).pipe((o) => (o._tag === "Some" ? o.value : undefined))
    : undefined;

describe("refresh protocol scenarios", () => {
  it("accessToken - should return a fresh token with no refresh", async () => {
    const { run, server } = await setup();
    const exit = await run(2, (t) => t.accessToken(account));
    expect(Exit.isSuccess(exit)).toBe(true);
    expect(server.presentations).toHaveLength(0);
  });

  it("accessToken - should refresh an expired token once and store generation 2", async () => {
    const { run, server, world, expire, events } = await setup();
    expire();
    const exit = await run(2, (t) => t.accessToken(account));
    expect(Exit.isSuccess(exit) && exit.value).toBe(world.secrets.get(key)?.accessToken);
    expect(world.secrets.get(key)?.generation).toBe(2);
    expect(server.presentations.map((p) => p.outcome)).toEqual(["rotated"]);
    expect(events().map((e) => e.type)).toEqual(["credentials.stored", "refresh.claimed", "credentials.stored"]);
  });

  it("accessToken - given a sibling already refreshed, should adopt its generation without a server call", async () => {
    const { run, server, world, expire } = await setup();
    expire();
    await run(2, (t) => t.accessToken(account));
    const exit = await run(3, (t) => t.accessToken(account));
    expect(Exit.isSuccess(exit) && exit.value).toBe(world.secrets.get(key)?.accessToken);
    expect(server.presentations).toHaveLength(1);
  });

  it("refresh - given invalid_grant and no newer generation, should revoke and keep the last record (I4)", async () => {
    const { run, server, world, expire, events } = await setup();
    const before = world.secrets.get(key);
    server.revokeFamily(1);
    expire();
    const exit = await run(2, (t) => t.accessToken(account));
    expect(errorOf(exit)).toMatchObject({ _tag: "LoginRequired", reason: "revoked" });
    expect(world.secrets.get(key)?.refreshToken).toBe(before?.refreshToken);
    expect(stateName(replay(events()))).toBe("revoked");
    const again = await run(3, (t) => t.accessToken(account));
    expect(errorOf(again)).toMatchObject({ _tag: "LoginRequired", reason: "revoked" });
    expect(server.presentations).toHaveLength(1);
  });

  it("refresh - given a 503, should fail retryable (it did not rotate), keep the token, release the claim and succeed later", async () => {
    const { run, server, world } = await setup();
    let faults = 1;
    server.nextFault = () => (faults-- > 0 ? "server-error" : "none");
    const current = world.secrets.get(key);
    const forced = await run(2, (t) => t.refresh(account));
    expect(errorOf(forced)).toMatchObject({ _tag: "Retryable", reason: "server-error" });
    expect(world.secrets.get(key)).toEqual(current);
    const fresh = await run(3, (t) => t.accessToken(account));
    expect(Exit.isSuccess(fresh) && fresh.value).toBe(current?.accessToken);
    const retried = await run(4, (t) => t.refresh(account));
    expect(Exit.isSuccess(retried) && retried.value.generation).toBe(2);
  });

  it("refresh - given a 5xx on an expired token, should fail retryable, not log out", async () => {
    const { run, server, expire } = await setup();
    server.nextFault = () => "server-error";
    expire();
    const exit = await run(2, (t) => t.accessToken(account));
    expect(errorOf(exit)).toMatchObject({ _tag: "Retryable", reason: "server-error" });
  });

  it("refresh - given the answer was lost after the server rotated, should record in doubt once and revoke (no grace)", async () => {
    const { run, server, expire, events } = await setup();
    let faults = 1;
    server.nextFault = () => (faults-- > 0 ? "lost-answer" : "none");
    expire();
    const exit = await run(2, (t) => t.accessToken(account));
    expect(errorOf(exit)).toMatchObject({ _tag: "LoginRequired", reason: "in-doubt" });
    const next = await run(3, (t) => t.accessToken(account));
    expect(errorOf(next)).toMatchObject({ _tag: "LoginRequired" });
    expect(events().filter((e) => e.type === "refresh.in-doubt")).toHaveLength(1);
    expect(server.presentations).toHaveLength(1);
  });

  it("refresh - given a grace window and a lost answer, should retry exactly once and recover", async () => {
    const { run, server, world, expire } = await setup(30);
    server.reuseGrace = true;
    let faults = 1;
    server.nextFault = () => (faults-- > 0 ? "lost-answer" : "none");
    expire();
    const exit = await run(2, (t) => t.accessToken(account));
    expect(Exit.isSuccess(exit) && exit.value).toBe(world.secrets.get(key)?.accessToken);
    expect(server.presentations).toHaveLength(2);
    expect(server.revokedFamilies.size).toBe(0);
  });

  it("accessToken - given a holder killed after presenting, should find the claim in doubt (I9)", async () => {
    const { run, world, expire, events } = await setup();
    expire();
    // A dead process (pid 9) left a presented claim on generation 1 and no generation 2.
    world.claims.set(
      key,
      new Map([
        [
          "1/1",
          {
            generation: 1,
            attempt: 1,
            claimant: { host: world.host, pid: 9, at: 0 },
            presenting: true,
            released: undefined,
            refreshFp: undefined,
            rotated: false,
          },
        ],
      ]),
    );
    const exit = await run(2, (t) => t.accessToken(account));
    expect(errorOf(exit)).toMatchObject({ _tag: "LoginRequired", reason: "in-doubt" });
    expect(events().find((e) => e.type === "refresh.in-doubt")).toMatchObject({ claimant: { pid: 9 } });
  });

  it("accessToken - given a holder killed before presenting, should take the next attempt and refresh once", async () => {
    const { run, world, server, expire } = await setup();
    expire();
    world.claims.set(
      key,
      new Map([
        [
          "1/1",
          {
            generation: 1,
            attempt: 1,
            claimant: { host: world.host, pid: 9, at: 0 },
            presenting: false,
            released: undefined,
            refreshFp: undefined,
            rotated: false,
          },
        ],
      ]),
    );
    const exit = await run(2, (t) => t.accessToken(account));
    expect(Exit.isSuccess(exit)).toBe(true);
    expect(server.presentations).toHaveLength(1);
  });

  it("accessToken - given a live claimant, should not present and fail retryable", async () => {
    const { run, world, server, expire } = await setup();
    expire();
    world.alive.add(9);
    world.claims.set(
      key,
      new Map([
        [
          "1/1",
          {
            generation: 1,
            attempt: 1,
            claimant: { host: world.host, pid: 9, at: 0 },
            presenting: true,
            released: undefined,
            refreshFp: undefined,
            rotated: false,
          },
        ],
      ]),
    );
    const exit = await run(2, (t) => t.accessToken(account));
    expect(errorOf(exit)).toMatchObject({ _tag: "Retryable", reason: "in-flight-elsewhere" });
    expect(server.presentations).toHaveLength(0);
  });

  it("refresh - given a full disk while persisting, should keep the new credentials, retry and store them", async () => {
    const { run, server, world, expire, events } = await setup();
    expire();
    world.failSecretWrites = 3;
    const exit = await run(2, (t) => t.accessToken(account));
    expect(Exit.isSuccess(exit) && exit.value).toBe(world.secrets.get(key)?.accessToken);
    expect(world.secrets.get(key)?.generation).toBe(2);
    expect(server.presentations).toHaveLength(1);
    expect(events().filter((e) => e.type === "credentials.stored")).toHaveLength(2);
  });

  it("refresh - given a disk that stays full, should fail retryable and never blank, and no sibling presents again", async () => {
    const { run, server, world, expire } = await setup();
    expire();
    world.failSecretWrites = 1_000;
    const first = await run(2, (t) => t.accessToken(account));
    expect(errorOf(first)).toMatchObject({ _tag: "Retryable", reason: "persist-failed" });
    expect(world.secrets.get(key)?.generation).toBe(1);
    world.alive.add(2);
    const sibling = await run(3, (t) => t.accessToken(account));
    expect(errorOf(sibling)).toMatchObject({ _tag: "Retryable" });
    expect(server.presentations).toHaveLength(1);
  });

  it("changes - should say refreshed in the process that rotated and adopted in the others", async () => {
    const { run, expire } = await setup();
    expire();
    const watch = (tokens: Tokens.TokensShape) =>
      Effect.scoped(
        Effect.gen(function* () {
          const subscription = yield* PubSub.subscribe(tokens.changes);
          yield* tokens.accessToken(account);
          return (yield* PubSub.take(subscription)).how;
        }),
      );
    const rotated = await run(2, watch);
    const adopted = await run(3, watch);
    expect(Exit.isSuccess(rotated) && rotated.value).toBe("refreshed");
    expect(Exit.isSuccess(adopted) && adopted.value).toBe("adopted");
  });

  it("accessToken - given no credentials, should ask for a login", async () => {
    const { run } = await setup();
    const exit = await run(2, (t) => t.accessToken({ provider: "sim", account: "other" }));
    expect(errorOf(exit)).toMatchObject({ _tag: "LoginRequired", reason: "no-credentials" });
  });

  it("accessToken - given an unknown provider, should fail not found", async () => {
    const { run } = await setup();
    const exit = await run(2, (t) => t.accessToken({ provider: "nope", account: "x" }));
    expect(errorOf(exit)).toMatchObject({ _tag: "NotFound", what: "provider" });
  });

  it("refresh - given a wider scope than granted, should keep the rotation but never hand out its access token (I10)", async () => {
    const { run, server, world } = await setup();
    const original = server.present.bind(server);
    server.present = (token, _scope, pid) => original(token, "openid admin", pid);
    const exit = await run(2, (t) => t.refresh(account));
    expect(errorOf(exit)).toMatchObject({ _tag: "InvalidInput" });
    const stored = world.secrets.get(key);
    expect(stored?.generation).toBe(2);
    expect(stored?.scope).toBe("openid");
    expect(stored?.expiresAt).toBe(stored?.obtainedAt);
    expect(server.presentations).toHaveLength(1);
  });

  it("accessToken - with 16 in-process callers, should make one server call (single flight)", async () => {
    const { run, server, expire } = await setup();
    expire();
    const exit = await run(2, (t) =>
      Effect.all(
        Array.from({ length: 16 }, () => t.accessToken(account)),
        { concurrency: "unbounded" },
      ),
    );
    expect(Exit.isSuccess(exit) && new Set(exit.value).size).toBe(1);
    expect(server.presentations).toHaveLength(1);
  });

  it("refresh - given a provider whose refresh tokens do not rotate and a lost answer, should present again and succeed", async () => {
    const { run, server, world, expire, events } = await setup(0, { rotation: "none" });
    server.rotates = false;
    let faults = 1;
    server.nextFault = () => (faults-- > 0 ? "lost-answer" : "none");
    expire();
    const exit = await run(2, (t) => t.accessToken(account));
    expect(Exit.isSuccess(exit) && exit.value).toBe(world.secrets.get(key)?.accessToken);
    expect(server.presentations.map((p) => p.outcome)).toEqual(["rotated", "rotated"]);
    expect(events().filter((e) => e.type === "account.revoked")).toEqual([]);
  });

  it("accessToken - given a provider that revokes the old access token on refresh, should not serve it while a sibling refreshes", async () => {
    const { run, world } = await setup(0, { revokesAccessTokenOnRefresh: true });
    // Expiring, not expired: a follower could serve it, were the refresh not about to revoke it.
    const current = world.secrets.get(key) as Credentials;
    const now = Date.now();
    world.secrets.set(key, { ...current, obtainedAt: now - 3_500_000, expiresAt: now + 100_000 });
    const claimed = Deferred.makeUnsafe<void>();
    const release = Deferred.makeUnsafe<void>();
    const holder = run(2, (t) => t.refresh(account), {
      at: (point) =>
        point === "claimed"
          ? Effect.andThen(Deferred.succeed(claimed, undefined), Deferred.await(release))
          : Effect.void,
    });
    await Effect.runPromise(Deferred.await(claimed));
    const follower = run(3, (t) => t.accessToken(account));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await Effect.runPromise(Deferred.succeed(release, undefined));
    const [held, followed] = await Promise.all([holder, follower]);
    const stored = world.secrets.get(key);
    expect(stored?.generation).toBe(2);
    expect(Exit.isSuccess(held)).toBe(true);
    expect(Exit.isSuccess(followed) && followed.value).toBe(stored?.accessToken);
  });
});
