/**
 * A whole simulated deployment for the property tests: N client "processes" (each with its own pid, in-process
 * cache and single-flight) share in-memory stores, a lock table and a rotating authorization server. A fast-check
 * scheduler decides the interleaving of every port operation; faults (5xx, lost answers, lease takeovers, crashes at
 * any protocol point, an administrator revoking the family, the user logging in again meanwhile) come from the
 * generated scenario, and a deliberately broken protocol (broken-protocols.ts) can be run instead of the real one.
 * `checkInvariants` returns every violated invariant of SPEC §1, so a property is simply "no violations".
 */

import { Cause, Effect, Exit, Layer } from "effect";
import type fc from "fast-check";
import {
  type AccountRef,
  accountKey,
  type Credentials,
  describeCredentials,
  Memory,
  ProtocolHooks,
  type ProtocolPoint,
  RefreshSettings,
  storeNewCredentials,
  Tokens,
} from "../../src/index.ts";
import { type Mutation, mutate } from "./broken-protocols.ts";

export interface Scenario {
  readonly clients: number;
  readonly graceWindowSeconds: number;
  readonly faults: ReadonlyArray<Memory.RequestFault>;
  readonly crashes: ReadonlyArray<{ readonly client: number; readonly point: ProtocolPoint }>;
  readonly steals: ReadonlyArray<boolean>;
  readonly adminRevokes: boolean;
  /** The provider lets the client introspect its refresh tokens (in-doubt outcomes are resolved). */
  readonly introspection: boolean;
  /** The user logs in again while the clients run; the provider then revokes the old family. */
  readonly relogin: boolean;
}

export type ClientOutcome =
  | { readonly kind: "token"; readonly token: string }
  | { readonly kind: "login-required"; readonly reason: string }
  | { readonly kind: "retryable"; readonly reason: string }
  | { readonly kind: "crashed" }
  | { readonly kind: "other"; readonly detail: string };

export interface SimulationReport {
  readonly outcomes: ReadonlyArray<ClientOutcome>;
  readonly violations: ReadonlyArray<string>;
}

const account: AccountRef = { provider: "sim", account: "work" };
const key = accountKey(account);
class Crash extends Error {}

const SETTINGS = {
  thresholdMs: 60_000,
  lockWaitMs: 3_600_000,
  watchFallbackMs: 10,
  persistRetryMs: 0,
  remoteInFlightMs: 120_000,
  introspectAfterMs: 0,
};

export const runScenario = async (
  scenario: Scenario,
  scheduler: fc.Scheduler,
  mutation?: Mutation,
): Promise<SimulationReport> => {
  const world = Memory.makeWorld();
  const server = new Memory.SimulatedServer();
  server.reuseGrace = scenario.graceWindowSeconds > 0;
  server.introspection = scenario.introspection;
  const profile = {
    name: "sim",
    issuer: server.issuer,
    clientId: "baton-sim",
    scope: undefined,
    graceWindowSeconds: scenario.graceWindowSeconds,
    deviceOnly: false,
    introspection: scenario.introspection,
  };

  // A login two hours ago: generation 1, already expired, so every client needs a refresh at once.
  const now = Date.now();
  const first = server.login();
  const initial: Credentials = {
    version: 1,
    account: key,
    generation: 1,
    accessToken: first.accessToken,
    ...(first.refreshToken === undefined ? {} : { refreshToken: first.refreshToken }),
    tokenType: "Bearer",
    expiresAt: now - 60_000,
    obtainedAt: now - 2 * 3600_000,
    issuer: server.issuer,
    clientId: "baton-sim",
  };
  world.secrets.set(key, initial);
  world.events.set(key, [
    {
      v: 1,
      seq: 1,
      at: initial.obtainedAt,
      host: world.host,
      pid: 1,
      type: "credentials.stored",
      generation: 1,
      source: "login",
      accessFp: describeCredentials(initial).accessFp,
      expiresAt: initial.expiresAt,
    },
  ]);
  if (scenario.adminRevokes) server.revokeFamily(server.familyOf(first.refreshToken ?? "") ?? 0);

  let faultIndex = 0;
  server.nextFault = () => scenario.faults[faultIndex++] ?? "none";
  let stealIndex = 0;
  world.stealLease = () => scenario.steals[stealIndex++] ?? false;
  const unlockedPresentations: Array<number> = [];
  server.onPresent = (pid) => {
    if (!Memory.holdsLock(world, key, pid)) unlockedPresentations.push(pid);
  };

  const interleaving = {
    pause: (label: string) => Effect.promise(() => scheduler.schedule(Promise.resolve(label), label)),
  };
  const runClient = async (index: number): Promise<ClientOutcome> => {
    const pid = 100 + index;
    const crashes = new Set(scenario.crashes.filter((c) => c.client === index).map((c) => c.point));
    const hooks = {
      at: (point: ProtocolPoint) =>
        crashes.has(point)
          ? Effect.suspend(() => {
              world.alive.delete(pid);
              return Effect.die(new Crash(point));
            })
          : Effect.void,
    };
    const program = Effect.gen(function* () {
      const tokens = yield* Tokens.Tokens;
      return yield* tokens.accessToken(account);
    }).pipe(
      Effect.provide(
        mutate(Tokens.layer, mutation, world, pid).pipe(
          Layer.provide(Memory.processLayer(world, server, pid, { profiles: [profile], scheduled: true })),
        ),
      ),
      Effect.provideService(Memory.Interleaving, interleaving),
      Effect.provideService(ProtocolHooks, hooks),
      Effect.provideService(RefreshSettings, SETTINGS),
    );
    const exit = await Effect.runPromiseExit(program);
    // The simulated process exits when its call returns (as `baton token` does): from now on it is dead.
    world.alive.delete(pid);
    if (Exit.isSuccess(exit)) return { kind: "token", token: exit.value };
    const error = Cause.findErrorOption(exit.cause);
    if (error._tag === "Some") {
      const e = error.value;
      if (e._tag === "LoginRequired") return { kind: "login-required", reason: e.reason };
      if (e._tag === "Retryable") return { kind: "retryable", reason: e.reason };
      return { kind: "other", detail: `${e._tag}: ${e.message}` };
    }
    if (Cause.squash(exit.cause) instanceof Crash) return { kind: "crashed" };
    return { kind: "other", detail: String(Cause.squash(exit.cause)) };
  };

  /** The user logs in again (a new family) under the lock like any login; the provider then revokes the old one. */
  const relogin = async (): Promise<void> => {
    const pid = 99;
    world.alive.add(pid);
    const oldFamily = server.familyOf(first.refreshToken ?? "");
    await Effect.runPromise(
      storeNewCredentials(account, profile, server.login(), "login").pipe(
        Effect.provide(Memory.processLayer(world, server, pid, { profiles: [profile], scheduled: true })),
        Effect.provideService(Memory.Interleaving, interleaving),
        Effect.provideService(RefreshSettings, SETTINGS),
        Effect.ignore,
      ),
    );
    if (oldFamily !== undefined) server.revokeFamily(oldFamily);
    world.alive.delete(pid);
  };

  const [outcomes] = await scheduler.waitFor(
    Promise.all([
      Promise.all(Array.from({ length: scenario.clients }, (_, index) => runClient(index))),
      scenario.relogin ? relogin() : Promise.resolve(),
    ]),
  );
  return { outcomes, violations: checkInvariants(scenario, world, server, outcomes, unlockedPresentations) };
};

const checkInvariants = (
  scenario: Scenario,
  world: Memory.MemoryWorld,
  server: Memory.SimulatedServer,
  outcomes: ReadonlyArray<ClientOutcome>,
  unlockedPresentations: ReadonlyArray<number>,
): Array<string> => {
  const violations: Array<string> = [];
  const faultFree = scenario.steals.every((s) => !s) && scenario.crashes.length === 0;
  // I1: each refresh token processed at most once (twice only inside a declared grace window).
  const perToken = new Map<string, number>();
  for (const p of server.presentations) perToken.set(p.refreshToken, (perToken.get(p.refreshToken) ?? 0) + 1);
  const allowed = scenario.graceWindowSeconds > 0 ? 2 : 1;
  for (const [token, count] of perToken) {
    if (count > allowed) violations.push(`I1: a refresh token was presented ${count} times (${token.slice(0, 8)}…)`);
  }
  if (server.presentations.some((p) => p.outcome === "reuse")) violations.push("I1: the server detected reuse");
  // I2: stored generations only go up.
  let last = 1;
  for (const write of world.secretWrites) {
    if (write.generation <= last) violations.push(`I2: generation ${write.generation} written after ${last}`);
    last = write.generation;
  }
  // I4: nothing is ever blanked, and revocation only when the family is really lost.
  if (world.secretRemovals.length > 0) violations.push("I4: credentials were removed");
  const stored = world.secrets.get(key);
  if (stored === undefined) violations.push("I4: no credentials left in the store");
  const family = server.familyOf(stored?.refreshToken ?? "");
  const familyAlive =
    family !== undefined && !server.revokedFamilies.has(family) && server.latest.get(family) === stored?.refreshToken;
  // A process killed after durably marking "presenting" but before the request left, or after an answer arrived but
  // before it was recorded, cannot be told from one that lost a rotation: the protocol must treat both as in doubt
  // (I9), so an in-doubt logout is excused exactly when such a kill happened.
  const killedWhilePresenting = scenario.crashes.some(
    (c) => (c.point === "presenting" || c.point === "answered") && c.client < scenario.clients,
  );
  // With the family revoked by the provider from the start, a client may be told to log in before the user's new
  // login lands; only the final state is known here, so such an outcome is excused.
  const revokedBeforeRelogin = scenario.adminRevokes && scenario.relogin;
  for (const outcome of outcomes) {
    // An answer lost after the server rotated is a real loss (without a grace window); a later login revives the
    // account, so the final state alone cannot excuse it.
    const lostRotation = scenario.faults.includes("lost-answer");
    const excused =
      (outcome.kind === "login-required" && outcome.reason === "in-doubt" && (killedWhilePresenting || lostRotation)) ||
      (outcome.kind === "login-required" && revokedBeforeRelogin);
    if (outcome.kind === "login-required" && familyAlive && !excused) {
      violations.push(`I4: a client was told to log in (${outcome.reason}) while the family was alive`);
    }
    if (outcome.kind === "other") violations.push(`unexpected failure: ${outcome.detail}`);
  }
  // I6: no presentation without having taken the lock.
  if (unlockedPresentations.length > 0)
    violations.push(`I6: ${unlockedPresentations.length} presentation(s) without the lock`);
  // I9: in doubt is recorded once per claim (with a single lock holder at a time).
  const events = world.events.get(key) ?? [];
  if (scenario.steals.every((s) => !s)) {
    const doubts = new Map<string, number>();
    for (const e of events) {
      if (e.type === "refresh.in-doubt")
        doubts.set(`${e.generation}/${e.attempt}`, (doubts.get(`${e.generation}/${e.attempt}`) ?? 0) + 1);
    }
    for (const [claim, count] of doubts)
      if (count > 1) violations.push(`I9: in-doubt recorded ${count} times for ${claim}`);
  }
  // Liveness: every client that got a token holds the latest generation (unless a login replaced it later); without
  // crashes or takeovers nobody is left retrying unless the server itself failed.
  for (const outcome of outcomes) {
    if (outcome.kind === "token" && familyAlive && !scenario.relogin && outcome.token !== stored?.accessToken) {
      violations.push("liveness: a client holds a token that is not the latest generation");
    }
    const serverFailed = scenario.faults.some((f) => f !== "none");
    if (faultFree && !serverFailed && !scenario.adminRevokes && !scenario.relogin && outcome.kind !== "token") {
      violations.push(
        `liveness: a client ended with ${outcome.kind}${"reason" in outcome ? ` (${outcome.reason})` : ""}`,
      );
    }
  }
  return violations;
};
