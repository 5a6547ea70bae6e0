/**
 * `baton replay [REF] [--json] [--trace FILE] [--html FILE]`: the event history as a readable timeline per account —
 * who (host, pid) did what, when — with anomalies flagged, folded by the same pure `replay` the running system uses,
 * and the access tokens a broker lent out (`~` lines; `handOuts` in the JSON).
 * `--trace` writes it as Chrome Trace Event JSON (ui.perfetto.dev, chrome://tracing) and `--html` as one
 * self-contained page of swimlanes: one lane per process, grouped by machine (replay/).
 */
import { allAccounts, InvalidInput } from "@baton/core";
import { Clock, Effect, Option } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { CliEnvironment } from "../composition.ts";
import { absoluteTime, paint } from "../format.ts";
import { jsonFlag } from "../json-flag.ts";
import { withHandOuts } from "../replay/hand-out-lines.ts";
import { accountPicture, accountTimeline } from "../replay/history.ts";
import { renderHtml } from "../replay/html.ts";
import { writePictureFile } from "../replay/output-file.ts";
import { renderTrace } from "../replay/trace.ts";
import { resolveKnownAccount } from "../resolve.ts";
import { describeEvent } from "../timeline.ts";

const fileFlag = (name: string, description: string) =>
  Flag.String(name).pipe(Flag.withDescription(description), Flag.optional);

const chosenFile = (flag: string, value: Option.Option<string>) =>
  Option.isNone(value)
    ? Effect.succeed(undefined)
    : value.value.trim() === ""
      ? Effect.fail(new InvalidInput({ reason: "argument", message: `${flag}: name a file` }))
      : Effect.succeed(value.value);

export const replayCommand = Command.make(
  "replay",
  {
    ref: Argument.String("ref").pipe(
      Argument.withDescription("PROVIDER:ACCOUNT (default: every account)"),
      Argument.optional,
    ),
    json: jsonFlag,
    trace: fileFlag("trace", "write Chrome Trace Event JSON to FILE (open it in ui.perfetto.dev or chrome://tracing)"),
    html: fileFlag("html", "write a self-contained HTML page of swimlanes to FILE"),
  },
  ({ ref, json, trace, html }) =>
    Effect.gen(function* () {
      const env = yield* CliEnvironment;
      const traceFile = yield* chosenFile("--trace", trace);
      const htmlFile = yield* chosenFile("--html", html);
      if (traceFile !== undefined && traceFile === htmlFile) {
        return yield* new InvalidInput({ reason: "argument", message: "--trace and --html: name two different files" });
      }
      const accounts = Option.isSome(ref) ? [yield* resolveKnownAccount(ref.value)] : yield* allAccounts;
      const say = (line: string) => Effect.sync(() => (json ? process.stderr : process.stdout).write(`${line}\n`));
      if (traceFile !== undefined || htmlFile !== undefined) {
        const pictures = yield* Effect.forEach(accounts, accountPicture);
        const lanes = pictures.reduce((n, p) => n + p.lanes.length, 0);
        if (traceFile !== undefined) {
          yield* writePictureFile("--trace", traceFile, `${JSON.stringify(renderTrace(pictures))}\n`);
          yield* say(`wrote ${traceFile}: ${lanes} process lanes; open it in ui.perfetto.dev or chrome://tracing`);
        }
        if (htmlFile !== undefined) {
          const generatedAt = yield* Clock.currentTimeMillis;
          yield* writePictureFile("--html", htmlFile, renderHtml(pictures, { generatedAt }));
          yield* say(`wrote ${htmlFile}: ${lanes} process lanes; open it in a browser`);
        }
        if (!json) return;
      }
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
        const eventLines = t.events.map((e) => {
          const anomaly = flagged.get(e.seq);
          const mark = anomaly === undefined ? "  " : paint(env.color, "red", "! ");
          return {
            at: e.at,
            line: `${mark}#${e.seq} ${absoluteTime(e.at)} ${e.host}:${e.pid}  ${describeEvent(e)}${anomaly ? `  [${anomaly.kind}]` : ""}`,
          };
        });
        lines.push(...withHandOuts(eventLines, t.handOuts));
      }
      yield* Effect.sync(() => process.stdout.write(`${lines.join("\n")}\n`));
    }),
).pipe(
  Command.withDescription("Show the event history as a timeline, with anomalies flagged; or draw it (--trace, --html)"),
  Command.withExamples([
    { command: "baton replay github:work", description: "one account's timeline" },
    { command: "baton replay github:work --html replay.html", description: "swimlanes, one lane per process" },
    { command: "baton replay --trace replay.json", description: "every account, for ui.perfetto.dev" },
  ]),
);
