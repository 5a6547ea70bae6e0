/**
 * The `baton` executable: parses the command line with effect/cli, runs the command with the app's services from the
 * composition root, and turns the outcome into the exit-code contract (docs/cli.md). launcher.ts loads it on demand.
 */
import * as NodeServices from "@effect/platform-node/NodeServices";
import { Effect, Exit } from "effect";
import { CliOutput, Command } from "effect/cli";
import { cleanCommand } from "./commands/clean.ts";
import { demoCommand } from "./commands/demo.ts";
import { doctorCommand } from "./commands/doctor.ts";
import { execCommand } from "./commands/exec.ts";
import { exportCommand } from "./commands/export.ts";
import { gitCredentialCommand } from "./commands/git-credential.ts";
import { hostCommand } from "./commands/host.ts";
import { importCommand } from "./commands/import.ts";
import { kubectlCredentialCommand } from "./commands/kubectl-credential.ts";
import { loginCommand } from "./commands/login.ts";
import { logoutCommand } from "./commands/logout.ts";
import { providerCommand } from "./commands/provider.ts";
import { rebuildCommand } from "./commands/rebuild.ts";
import { refreshCommand } from "./commands/refresh.ts";
import { replayCommand } from "./commands/replay.ts";
import { statusCommand } from "./commands/status.ts";
import { tokenCommand } from "./commands/token.ts";
import { useCommand } from "./commands/use.ts";
import { provideApp } from "./composition.ts";
import { EXIT, messageOf } from "./exit-codes.ts";
import { exitCodeAfter } from "./exit-report.ts";
import { exitCodeOfRun, runInterruptibly } from "./signals.ts";

export const VERSION = "0.1.0";

const baton = Command.make("baton").pipe(
  Command.withDescription(
    "Keeps OAuth sessions alive for command-line tools: one refresh per rotation, every process adopts it.",
  ),
  Command.withSubcommands([
    providerCommand,
    loginCommand,
    tokenCommand,
    execCommand,
    statusCommand,
    refreshCommand,
    useCommand,
    logoutCommand,
    replayCommand,
    exportCommand,
    importCommand,
    cleanCommand,
    rebuildCommand,
    doctorCommand,
    demoCommand,
    hostCommand,
    gitCredentialCommand,
    kubectlCredentialCommand,
  ]),
);

/**
 * Help and version go to stdout when asked for; an invalid invocation (unknown flag, missing argument, bad value)
 * prints its errors and the command's help on stderr, so stdout — where `baton token` writes — stays clean.
 */
const presenter = CliOutput.layerPresenter({
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Effect.gen(function* () {
          const formatter = yield* CliOutput.Formatter;
          yield* Effect.sync(() =>
            process.stderr.write(
              `${formatter.formatErrors(event.errors)}\n\n${formatter.formatHelpDoc(event.helpDoc)}\n`,
            ),
          );
        })
      : CliOutput.defaultPresenter.present(event),
});

const main = async (): Promise<number> => {
  const program = Command.runWith(baton, { version: VERSION })(process.argv.slice(2));
  const run = await runInterruptibly(
    provideApp(program).pipe(Effect.provide(presenter), Effect.provide(NodeServices.layer)),
  );
  return exitCodeOfRun(run, (exit) =>
    Exit.isSuccess(exit) ? (typeof process.exitCode === "number" ? process.exitCode : EXIT.ok) : exitCodeAfter(exit),
  );
};

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`baton: unexpected failure: ${messageOf(error)}\n`);
    process.exitCode = EXIT.bug;
  },
);
