/**
 * The flight notes (events.ts `FlightNote`): every process that runs a refresh flight leaves one note saying what it
 * did — the holder that refreshed, with when its request left and when the answer came back, and the followers that
 * waited for it and adopted its generation — so that `replay --trace` / `--html` can draw each process's part. Two
 * simulated processes on the in-memory world: the holder pauses at the "presenting" point while the follower arrives.
 */
import { Effect, Exit, Layer } from "effect";
import { expect, it } from "vitest";
import {
  type AccountRef,
  accountKey,
  type Credentials,
  type FlightNote,
  Memory,
  ProtocolHooks,
  type ProviderProfile,
  RefreshSettings,
  storeNewCredentials,
  Tokens,
} from "../src/index.ts";

const account: AccountRef = { provider: "sim", account: "work" };
const key = accountKey(account);
const HOLD_MS = 60;

it("accessToken - given two processes at an expired token, should leave a flight note each: the holder's request times, the follower's wait and adoption", async () => {
  const world = Memory.makeWorld();
  const server = new Memory.SimulatedServer();
  server.accessTtlSeconds = 3600;
  const profile: ProviderProfile = {
    name: "sim",
    issuer: server.issuer,
    clientId: "c",
    scope: "openid",
    graceWindowSeconds: 0,
    deviceOnly: false,
    introspection: false,
  };
  const layer = (pid: number) => Memory.processLayer(world, server, pid, { profiles: [profile] });
  await Effect.runPromise(
    storeNewCredentials(account, profile, server.login("openid"), "login").pipe(Effect.provide(layer(1))),
  );
  const current = world.secrets.get(key) as Credentials;
  world.secrets.set(key, { ...current, obtainedAt: 0, expiresAt: 1 });

  // The holder pauses while presenting, so that the follower finds the lock held and waits for the outcome.
  const holding = {
    at: (point: string) => (point === "presenting" ? Effect.sleep(HOLD_MS) : Effect.void),
  };
  const run = (pid: number, hooks: typeof holding | undefined) =>
    Effect.runPromiseExit(
      Tokens.Tokens.use((tokens) => tokens.accessToken(account)).pipe(
        Effect.provide(Layer.fresh(Tokens.layer).pipe(Layer.provide(layer(pid)))),
        Effect.provideService(RefreshSettings, { ...RefreshSettings.defaultValue(), watchFallbackMs: 20 }),
        hooks === undefined ? (effect) => effect : Effect.provideService(ProtocolHooks, hooks),
      ),
    );
  const holder = run(2, holding);
  await new Promise((resolve) => setTimeout(resolve, HOLD_MS / 3));
  const follower = run(3, undefined);
  const [holderExit, followerExit] = await Promise.all([holder, follower]);
  expect(Exit.isSuccess(holderExit) && Exit.isSuccess(followerExit)).toBe(true);
  expect(server.presentations).toHaveLength(1);

  const notes = (world.notes.get(key) ?? []).filter((n): n is FlightNote => n.kind === "flight");
  const byPid = new Map(notes.map((n) => [n.pid, n]));
  expect(notes).toHaveLength(2);
  const refreshed = byPid.get(2);
  const adopted = byPid.get(3);
  expect(refreshed).toMatchObject({ outcome: "refreshed", generation: 2 });
  expect(adopted).toMatchObject({ outcome: "adopted", generation: 2 });

  // The holder: claim → request → commit, in order, inside its flight.
  const events = world.events.get(key) ?? [];
  const claimed = events.find((e) => e.type === "refresh.claimed");
  const stored = events.find((e) => e.type === "credentials.stored" && e.source === "refresh");
  const sentAt = refreshed?.sentAt ?? Number.NaN;
  const answeredAt = refreshed?.answeredAt ?? Number.NaN;
  expect(refreshed?.startedAt).toBeLessThanOrEqual(claimed?.at ?? Number.NaN);
  expect(claimed?.at).toBeLessThanOrEqual(sentAt);
  expect(sentAt).toBeLessThanOrEqual(answeredAt);
  expect(answeredAt).toBeLessThanOrEqual(stored?.at ?? Number.NaN);
  expect(stored?.at).toBeLessThanOrEqual(refreshed?.endedAt ?? Number.NaN);

  // The follower: waited from after its start until the holder's answer was in, then adopted.
  expect(adopted?.sentAt).toBeUndefined();
  expect(adopted?.waitedFrom).toBeGreaterThanOrEqual(adopted?.startedAt ?? Number.NaN);
  expect(adopted?.waitedUntil).toBeGreaterThanOrEqual(answeredAt);
  expect(adopted?.endedAt).toBeGreaterThanOrEqual(adopted?.waitedUntil ?? Number.NaN);
});
