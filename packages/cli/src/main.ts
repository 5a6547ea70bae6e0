/**
 * The full `baton` CLI: every command, parsed by effect/cli (launcher.ts loads it for anything the lean entry does not
 * run). Help asked for (`--help`, `baton help [COMMAND…]`) and the version go to stdout; an invalid invocation —
 * including a command that needs a subcommand, such as a bare `baton` or `baton provider` — prints its errors and the
 * help on stderr, exit 2, so stdout (where `baton token` writes) stays clean. effect/cli's interactive `--wizard` is
 * not offered; its `--log-level` works (`debug` logs the decisions as BATON_DEBUG=1 does, composition.ts). The
 * outcome becomes an exit code (exit-report.ts).
 */

import { InvalidInput } from "@baton/core";
import * as NodeServices from "@effect/platform-node/NodeServices";
import { Effect, Exit } from "effect";
import { Argument, CliConfig, CliOutput, Command, GlobalFlag } from "effect/cli";
import packageJson from "../package.json" with { type: "json" };
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
import { serveCommand } from "./commands/serve.ts";
import { statusCommand } from "./commands/status.ts";
import { storeCommand } from "./commands/store.ts";
import { tokenCommand } from "./commands/token.ts";
import { useCommand } from "./commands/use.ts";
import { appLayer, type Extension, environmentFromProcess, withLogLevel } from "./composition.ts";
import { EXIT } from "./exit-codes.ts";
import { exitCodeAfter } from "./exit-report.ts";
import { thinRefusal } from "./serve/thin-commands.ts";
import { exitCodeOfRun, runInterruptibly } from "./signals.ts";

const VERSION = packageJson.version;
const environment = environmentFromProcess();

const commands = [
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
  serveCommand,
  storeCommand,
] as const;

/** Commands that run when the shared store is not ready (they say why, or use no store); every other one checks it. */
const WITHOUT_STORE_CHECK: ReadonlySet<string> = new Set(["doctor", "store", "demo", "help"]);

const describeBaton = Command.withDescription(
  "Keeps OAuth sessions alive for command-line tools: one refresh per rotation, every process adopts it.",
);

/** `baton help [COMMAND…]` as listed; it runs `baton COMMAND… --help` on {@link listed}. */
const help = Command.make("help", {
  command: Argument.String("command").pipe(
    Argument.withDescription("the command to explain, e.g. `provider add` (default: baton itself)"),
    Argument.variadic(),
  ),
}).pipe(
  Command.withDescription("Show the help of baton or of a command"),
  Command.withExamples([{ command: "baton help provider add", description: "how to register a provider" }]),
);

/** The command tree whose help `baton help` prints: the same commands, and `help` itself as listed. */
const listed = Command.make("baton").pipe(describeBaton, Command.withSubcommands([...commands, help]));

/** Whether `path` names a command below `command` (by the tree's names, as the parser matches them). */
const names = (command: Command.Command.Any, path: ReadonlyArray<string>): boolean => {
  const [first, ...rest] = path;
  return (
    first === undefined ||
    command.subcommands.some((group) => group.commands.some((sub) => sub.name === first && names(sub, rest)))
  );
};

const explain = Command.withHandler(({ command }: { readonly command: ReadonlyArray<string> }) =>
  names(listed, command)
    ? Command.runWith(listed, { version: VERSION })([...command, "--help"])
    : Effect.fail(
        new InvalidInput({
          reason: "argument",
          message: `there is no command "baton ${command.join(" ")}"; run \`baton help\` for the list`,
        }),
      ),
);

/** The commands run with the app's services, built once the global flags (`--log-level`) are in place. */
const baton = (extension: Extension | undefined, checkStore: boolean) =>
  Command.make("baton").pipe(
    describeBaton,
    Command.withSubcommands([...commands, help.pipe(explain)]),
    Command.provide(appLayer(environment, extension, { checkStore })),
  );

/** The command `args` name: the first word that is one of baton's commands. */
const commandOf = (args: ReadonlyArray<string>): string | undefined => {
  const known = new Set([...commands.map((command) => command.name), "help"]);
  return args.find((arg) => known.has(arg));
};

/** Requested help and the version on stdout; an invalid invocation and implicit help on stderr. */
const presenter = CliOutput.layerPresenter({
  present: (event) =>
    event._tag === "InvalidInvocation" || (event._tag === "Help" && event.reason === "Implicit")
      ? Effect.gen(function* () {
          const formatter = yield* CliOutput.Formatter;
          const errors = event._tag === "InvalidInvocation" ? `${formatter.formatErrors(event.errors)}\n\n` : "";
          yield* Effect.sync(() => process.stderr.write(`${errors}${formatter.formatHelpDoc(event.helpDoc)}\n`));
        })
      : CliOutput.defaultPresenter.present(event),
});

/** effect/cli's built-in global flags without the interactive wizard. */
const builtIns = CliConfig.layer({ builtIns: GlobalFlag.BuiltIns.filter((flag) => flag !== GlobalFlag.Wizard) });

/** Runs `args`; resolves to the process exit code. */
export const run = async (args: ReadonlyArray<string>, extension?: Extension): Promise<number> => {
  const { server } = environment;
  if (server !== undefined && !(server instanceof InvalidInput)) {
    const refusal = thinRefusal(
      args,
      commands.map((command) => command.name),
      server.brokers.map((broker) => broker.address.display),
    );
    if (refusal !== undefined) {
      process.stderr.write(`baton: ${refusal}\n`);
      return EXIT.usage;
    }
  }
  const command = commandOf(args);
  const checkStore = command === undefined || !WITHOUT_STORE_CHECK.has(command);
  const program = Command.runWith(baton(extension, checkStore), { version: VERSION })(args);
  const run = await runInterruptibly(
    program.pipe(
      withLogLevel(environment),
      Effect.provide(presenter),
      Effect.provide(builtIns),
      Effect.provide(NodeServices.layer),
    ),
  );
  return exitCodeOfRun(run, (exit) =>
    Exit.isSuccess(exit) ? (typeof process.exitCode === "number" ? process.exitCode : EXIT.ok) : exitCodeAfter(exit),
  );
};
