/**
 * `baton demo`: baton's main job on an embedded default. Starts a local authorization server (rotating refresh
 * tokens, reuse detection that revokes the family, access tokens of a few seconds, some latency), logs in headlessly
 * into a fresh BATON_HOME, then runs rounds of many concurrent `baton token` processes, each round after the token
 * expired, and shows the status table and the replay summary: one refresh per rotation, zero reuse, nobody logged out.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NodeBaton } from "@baton/adapters";
import { type AccountRef, accountKey, accountStatus, InvalidInput } from "@baton/core";
import { Clock, Effect } from "effect";
import { Command, Flag } from "effect/cli";
import { CliEnvironment } from "../composition.ts";
import { paint } from "../format.ts";
import { renderStatusTable } from "../status-view.ts";
import { runRound } from "./demo-rounds.ts";
import { loginDemoAccount, startDemoServer } from "./demo-setup.ts";
import { accountTimeline } from "./replay.ts";

const say = (text: string) => Effect.sync(() => process.stdout.write(`${text}\n`));

export const demoCommand = Command.make(
  "demo",
  {
    processes: Flag.Int("processes").pipe(Flag.withDescription("concurrent processes per round"), Flag.withDefault(16)),
    rounds: Flag.Int("rounds").pipe(Flag.withDescription("rotations to run"), Flag.withDefault(3)),
    ttl: Flag.Int("ttl").pipe(Flag.withDescription("access-token lifetime in seconds"), Flag.withDefault(4)),
    latency: Flag.Int("latency").pipe(Flag.withDescription("token-endpoint latency in ms"), Flag.withDefault(100)),
  },
  ({ processes, rounds, ttl, latency }) =>
    Effect.gen(function* () {
      if (processes < 1 || processes > 128 || rounds < 1 || ttl < 2) {
        return yield* new InvalidInput({
          reason: "argument",
          message: "use 1–128 processes, at least 1 round and a ttl of at least 2 s",
        });
      }
      const env = yield* CliEnvironment;
      const script = process.argv[1] ?? "";
      const home = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "baton-demo-")));
      const server = yield* Effect.promise(() => startDemoServer(ttl, latency));
      yield* Effect.addFinalizer(() =>
        Effect.promise(() => Promise.all([server.stop(), rm(home, { recursive: true, force: true })])),
      );
      const account: AccountRef = { provider: "demo", account: "you" };
      const demoHome = NodeBaton.layer({ backend: { kind: "home", home, secrets: "file" } });
      yield* say(paint(env.color, "bold", "baton demo"));
      yield* say(
        `  authorization server ${server.issuer}: refresh tokens rotate on every use, reuse revokes the family,`,
      );
      yield* say(`  access tokens live ${ttl} s, the token endpoint answers after ${latency} ms; BATON_HOME=${home}`);

      const first = yield* loginDemoAccount(server, account).pipe(Effect.provide(demoHome));
      yield* say(
        `  logged in as ${accountKey(account)} (authorization code + PKCE, headless): generation ${first.generation}`,
      );

      let allGood = true;
      for (let round = 1; round <= rounds; round++) {
        const stored = yield* accountStatus(account).pipe(Effect.provide(demoHome));
        const now = yield* Clock.currentTimeMillis;
        const wait = Math.max(0, (stored.expiresAt ?? now) - now + 50);
        yield* say(
          `  round ${round}: waiting ${(wait / 1000).toFixed(1)} s for generation ${stored.generation} to expire…`,
        );
        yield* Effect.sleep(wait);
        const before = server.counters();
        const result = yield* Effect.promise(() => runRound(script, home, accountKey(account), processes));
        const after = server.counters();
        const grants = after.refreshGrants - before.refreshGrants;
        const reuse = after.reuseErrors - before.reuseErrors;
        const ok = result.exitCodes.filter((c) => c === 0).length;
        const distinct = new Set(result.fingerprints);
        const good = grants === 1 && reuse === 0 && ok === processes && distinct.size === 1;
        allGood &&= good;
        yield* say(
          `  round ${round}: ${processes} processes → ${grants} refresh grant, ${reuse} reuse errors, ${ok}/${processes} hold ` +
            `token ${[...distinct].join(",")} after ${Math.round(result.elapsedMs)} ms ${good ? paint(env.color, "green", "✓") : paint(env.color, "red", "✗")}`,
        );
      }

      const status = yield* accountStatus(account).pipe(Effect.provide(demoHome));
      const now = yield* Clock.currentTimeMillis;
      yield* say(`
${renderStatusTable([{ ...status, default: true, sessions: 0 }], now, env.color)}`);
      const timeline = yield* accountTimeline(account).pipe(Effect.provide(demoHome));
      const s = timeline.summary;
      yield* say(
        `\nreplay: ${s.events} events, ${s.refreshes} refreshes for ${rounds} rotations, ${s.claims} claims, ` +
          `${s.inDoubt} in doubt, ${s.revoked} revoked, ${s.lockWaits} lock waits, ${timeline.anomalies.length} anomalies`,
      );
      const counters = server.counters();
      yield* say(
        `server: ${counters.refreshGrants} refresh grants, ${counters.reuseErrors} reuse errors, ${counters.grantsRevoked} grants revoked`,
      );
      if (!allGood || counters.reuseErrors > 0 || s.revoked > 0) {
        return yield* new InvalidInput({ reason: "argument", message: "the demo saw a problem (see above)" });
      }
      yield* say(paint(env.color, "green", `one refresh per rotation, zero reuse, nobody logged out.`));
    }).pipe(Effect.scoped),
).pipe(
  Command.withDescription("Run the main job end to end against a local authorization server"),
  Command.withExamples([
    { command: "baton demo", description: "16 processes through 3 rotations" },
    { command: "baton demo --processes 32 --rounds 5", description: "a bigger herd" },
  ]),
);
