/**
 * `baton demo`: what baton prevents, then baton doing its job, on an embedded default. Starts a local authorization
 * server (rotating refresh tokens, reuse detection that revokes the family, access tokens of a few seconds, some
 * latency) and a fresh BATON_HOME, then:
 *
 * 1. the herd WITHOUT coordination: N processes of a naive tool (demo-naive.ts) share one login and each refreshes
 *    on its own when the token expires — the server detects the reuse, revokes the family, and every process is
 *    logged out;
 * 2. the same herd with baton: rounds of N concurrent `baton token` processes, each round after the token expired,
 *    then the status table and the replay summary — one refresh per rotation, zero reuse, nobody logged out — and
 *    the replay of those rounds as a page of swimlanes (and a trace for ui.perfetto.dev), which `--open` opens.
 *
 * Waits show a countdown or a spinner on a terminal, plain lines when piped (demo-progress.ts).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { LoopbackLogin, NodeBaton, ProviderRegistry } from "@baton/adapters";
import { type AccountRef, accountKey, accountStatus, InvalidInput } from "@baton/core";
import { Clock, Effect } from "effect";
import { Command, Flag } from "effect/cli";
import { CliEnvironment } from "../composition.ts";
import { paint } from "../format.ts";
import { accountPicture, accountTimeline } from "../replay/history.ts";
import { renderHtml } from "../replay/html.ts";
import { writePictureFile } from "../replay/output-file.ts";
import { renderTrace } from "../replay/trace.ts";
import { renderStatusTable } from "../status-view.ts";
import { naiveToolPath, runNaiveRound, writeNaiveCredentials } from "./demo-naive.ts";
import { makeProgress } from "./demo-progress.ts";
import { runRound } from "./demo-rounds.ts";
import { headlessLogin, loginDemoAccount, startDemoServer } from "./demo-setup.ts";

const seconds = (ms: number) => `${(Math.max(0, ms) / 1000).toFixed(1)} s`;

export const demoCommand = Command.make(
  "demo",
  {
    processes: Flag.Int("processes").pipe(Flag.withDescription("concurrent processes per round"), Flag.withDefault(16)),
    rounds: Flag.Int("rounds").pipe(Flag.withDescription("rotations to run"), Flag.withDefault(3)),
    ttl: Flag.Int("ttl").pipe(Flag.withDescription("access-token lifetime in seconds"), Flag.withDefault(4)),
    latency: Flag.Int("latency").pipe(Flag.withDescription("token-endpoint latency in ms"), Flag.withDefault(100)),
    open: Flag.Boolean("open").pipe(
      Flag.withDescription("open the replay of baton's rounds in the browser at the end"),
      Flag.withDefault(false),
    ),
  },
  ({ processes, rounds, ttl, latency, open }) =>
    Effect.gen(function* () {
      if (processes < 1 || processes > 128 || rounds < 1 || ttl < 2) {
        return yield* new InvalidInput({
          reason: "argument",
          message: "use 1–128 processes, at least 1 round and a ttl of at least 2 s",
        });
      }
      const env = yield* CliEnvironment;
      const progress = makeProgress(process.stdout.isTTY === true, (text) => process.stdout.write(text));
      const { say } = progress;
      const script = process.argv[1] ?? "";
      const home = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "baton-demo-")));
      yield* Effect.addFinalizer(() => Effect.promise(() => rm(home, { recursive: true, force: true })));
      yield* say(paint(env.color, "bold", "baton demo"));
      const server = yield* progress.during(
        () => "  starting the local authorization server…",
        Effect.promise(() => startDemoServer(ttl, latency)),
      );
      yield* Effect.addFinalizer(() => Effect.promise(() => server.stop()));
      const account: AccountRef = { provider: "demo", account: "you" };
      const demoHome = NodeBaton.layer({ backend: { kind: "home", home, secrets: "file" } });
      yield* say(
        `  authorization server ${server.issuer}: refresh tokens rotate on every use, reuse revokes the family,`,
      );
      yield* say(`  access tokens live ${ttl} s, the token endpoint answers after ${latency} ms; BATON_HOME=${home}`);

      // Two logins, two token families: one for baton's account, one shared by the naive tool's processes.
      const first = yield* loginDemoAccount(server, account).pipe(Effect.provide(demoHome));
      yield* say(
        `  logged in as ${accountKey(account)} (authorization code + PKCE, headless): generation ${first.generation}`,
      );
      const naiveFile = join(home, "naive-tool-credentials.json");
      const provider = yield* ProviderRegistry.getProvider(account.provider).pipe(Effect.provide(demoHome));
      const naiveLoginAt = yield* Clock.currentTimeMillis;
      const naiveTokens = yield* headlessLogin(server, provider);
      yield* Effect.promise(() => writeNaiveCredentials(naiveFile, naiveTokens, naiveLoginAt));

      // 1. Without coordination.
      yield* say("");
      yield* say(
        paint(env.color, "bold", `1. without coordination: ${processes} processes of a tool that refreshes on its own`),
      );
      yield* say("  (one shared login, no lock, no claim — as many command-line tools do)");
      const naiveWait = naiveLoginAt + (naiveTokens.expiresIn ?? 0) * 1000 + 50 - (yield* Clock.currentTimeMillis);
      if (naiveWait > 0) {
        yield* progress.countdown(naiveWait, (left) => `  waiting ${seconds(left)} for its token to expire…`);
      }
      let naiveDone = 0;
      const naive = yield* progress.during(
        () =>
          naiveDone === 0
            ? `  ${processes} processes started…`
            : `  ${processes} processes started… ${naiveDone}/${processes} done`,
        Effect.promise(() =>
          runNaiveRound(naiveToolPath(script), naiveFile, server, processes, () => {
            naiveDone += 1;
          }),
        ),
      );
      const family =
        naive.grantsRevoked > 0 ? "the server detected the reuse and revoked the token family" : "no reuse";
      yield* say(
        `  ${processes} processes → ${naive.presented} refresh requests: ${naive.rotated} rotated, ` +
          `${naive.reuseErrors} rejected as reuse; ${family}`,
      );
      yield* say(
        `  ${naive.loggedOut} of ${processes} logged out: ${naive.loggedOut === processes ? "no process holds a working token" : `${processes - naive.loggedOut} still hold one`} ` +
          (naive.loggedOut > 0 ? paint(env.color, "red", "✗") : paint(env.color, "green", "✓")),
      );

      // 2. With baton.
      yield* say("");
      yield* say(
        paint(
          env.color,
          "bold",
          `2. with baton: ${processes} \`baton token\` processes, ${rounds} rotation${rounds === 1 ? "" : "s"}`,
        ),
      );
      const serverBefore = server.counters();
      let allGood = true;
      for (let round = 1; round <= rounds; round++) {
        const stored = yield* accountStatus(account).pipe(Effect.provide(demoHome));
        const now = yield* Clock.currentTimeMillis;
        const wait = (stored.expiresAt ?? now) - now + 50;
        if (wait > 0) {
          yield* progress.countdown(
            wait,
            (left) => `  round ${round}: waiting ${seconds(left)} for generation ${stored.generation} to expire…`,
          );
        }
        const before = server.counters();
        let done = 0;
        const result = yield* progress.during(
          () =>
            done === 0
              ? `  round ${round}: ${processes} processes started…`
              : `  round ${round}: ${processes} processes started… ${done}/${processes} done`,
          Effect.promise(() =>
            runRound(script, home, accountKey(account), processes, () => {
              done += 1;
            }),
          ),
        );
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
      const reuseErrors = counters.reuseErrors - serverBefore.reuseErrors;
      const revoked = counters.grantsRevoked - serverBefore.grantsRevoked;
      yield* say(
        `server, during baton's rounds: ${counters.refreshGrants - serverBefore.refreshGrants} refresh grants, ` +
          `${reuseErrors} reuse errors, ${revoked} grants revoked`,
      );

      // The replay of baton's rounds outlives the demo's BATON_HOME.
      const pictures = yield* tmpdirFor("baton-demo-replay-");
      const picture = yield* accountPicture(account).pipe(Effect.provide(demoHome));
      const htmlPath = join(pictures, "replay.html");
      const tracePath = join(pictures, "replay.json");
      yield* writePictureFile("replay", htmlPath, renderHtml([picture], { generatedAt: now }));
      yield* writePictureFile("replay", tracePath, `${JSON.stringify(renderTrace([picture]))}\n`);

      if (!allGood || reuseErrors > 0 || s.revoked > 0) {
        return yield* new InvalidInput({ reason: "argument", message: "the demo saw a problem (see above)" });
      }
      yield* say(paint(env.color, "green", `one refresh per rotation, zero reuse, nobody logged out.`));
      yield* say(
        `\nwithout coordination ${naive.loggedOut} of ${processes} processes were logged out after one rotation; ` +
          `with baton ${processes} processes went through ${rounds} rotations with one refresh each.`,
      );
      yield* say(`the replay of baton's rounds, one lane per process: ${htmlPath}`);
      yield* say(`  (the same as a trace for ui.perfetto.dev: ${tracePath})`);
      if (open) yield* Effect.sync(() => LoopbackLogin.openInBrowser(pathToFileURL(htmlPath).href));
    }).pipe(Effect.scoped),
).pipe(
  Command.withDescription("Show what baton prevents, then run its main job, against a local authorization server"),
  Command.withExamples([
    { command: "baton demo", description: "16 processes without, then with baton through 3 rotations" },
    { command: "baton demo --processes 32 --rounds 5 --open", description: "a bigger herd, then its replay" },
  ]),
);

const tmpdirFor = (prefix: string) => Effect.promise(() => mkdtemp(join(tmpdir(), prefix)));
