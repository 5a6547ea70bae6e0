/**
 * `baton replay [REF] [--json]`: the event history as a readable timeline per account — who (host, pid) did what,
 * when — with anomalies flagged, folded by the same pure `replay` the running system uses.
 */
import {
  type AccountRef,
  accountKey,
  allAccounts,
  DEFAULT_THRESHOLD_MS,
  EventStore,
  replay,
  stateName,
} from "@baton/core";
import { Clock, Effect, Option } from "effect";
import { Argument, Command } from "effect/cli";
import { CliEnvironment } from "../composition.ts";
import { absoluteTime, paint } from "../format.ts";
import { jsonFlag } from "../json-flag.ts";
import { resolveKnownAccount } from "../resolve.ts";
import { describeEvent, findAnomalies, summarize } from "../timeline.ts";

export const accountTimeline = (account: AccountRef) =>
  Effect.gen(function* () {
    const events = yield* (yield* EventStore).read(account);
    // Evaluated now, with the threshold `status` uses, so the header and `status` name the same state.
    const now = yield* Clock.currentTimeMillis;
    return {
      account: accountKey(account),
      state: stateName(replay(events, { now, thresholdMs: DEFAULT_THRESHOLD_MS })),
      summary: summarize(events),
      anomalies: findAnomalies(events),
      events,
    };
  });

export const replayCommand = Command.make(
  "replay",
  {
    ref: Argument.String("ref").pipe(
      Argument.withDescription("PROVIDER:ACCOUNT (default: every account)"),
      Argument.optional,
    ),
    json: jsonFlag,
  },
  ({ ref, json }) =>
    Effect.gen(function* () {
      const env = yield* CliEnvironment;
      const accounts = Option.isSome(ref) ? [yield* resolveKnownAccount(ref.value)] : yield* allAccounts;
      const timelines = yield* Effect.forEach(accounts, accountTimeline);
      if (json) {
        yield* Effect.sync(() =>
          process.stdout.write(`${JSON.stringify({ version: 1, accounts: timelines }, null, 2)}\n`),
        );
        return;
      }
      const lines: Array<string> = [];
      for (const t of timelines) {
        lines.push(
          paint(
            env.color,
            "bold",
            `${t.account} — ${t.state}; ${t.summary.refreshes} refreshes, ${t.summary.claims} claims, ${t.anomalies.length} anomalies`,
          ),
        );
        const flagged = new Map(t.anomalies.map((a) => [a.seq, a]));
        for (const e of t.events) {
          const anomaly = flagged.get(e.seq);
          const mark = anomaly === undefined ? "  " : paint(env.color, "red", "! ");
          lines.push(
            `${mark}#${e.seq} ${absoluteTime(e.at)} ${e.host}:${e.pid}  ${describeEvent(e)}${anomaly ? `  [${anomaly.kind}]` : ""}`,
          );
        }
      }
      yield* Effect.sync(() => process.stdout.write(`${lines.join("\n")}\n`));
    }),
).pipe(
  Command.withDescription("Show the event history as a timeline, with anomalies flagged"),
  Command.withExamples([{ command: "baton replay github:work", description: "one account's timeline" }]),
);
