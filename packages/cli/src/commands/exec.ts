/**
 * `baton exec REF [--env NAME] -- CMD ARGS…`: runs CMD with a valid access token in NAME (default
 * BATON_ACCESS_TOKEN), registered as an active session of the account while it runs, and exits with CMD's status.
 *
 * - The token travels in the child's environment only, never in its arguments (I8). baton's own secrets
 *   (BATON_PASSPHRASE, BATON_STORE_KEY, BATON_SERVER_TOKEN) are removed from that environment: CMD needs none of them.
 * - SIGTERM, SIGINT and SIGHUP sent to baton are forwarded to CMD, and baton keeps running until CMD exits (so the
 *   session record is removed and the exit status is CMD's). On a terminal, Ctrl-C reaches both processes of the
 *   foreground group, so CMD may see SIGINT twice, as with other wrappers that forward signals (aws-vault, op run).
 * - The exit status is CMD's; 128 + N when CMD was killed by signal N (as a shell reports it); 127 when CMD cannot be
 *   found, 126 when it cannot be started. The message for a start failure is built from the error code only: Node's
 *   own message may quote the environment, and so the token (e.g. a value holding a NUL byte).
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { InvalidInput, Sessions, Tokens } from "@baton/core";
import { Effect } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { CliEnvironment } from "../composition.ts";
import { resolveAccount } from "../resolve.ts";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Signals baton passes on to the command instead of dying of them. */
const FORWARDED_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;

/** baton's own secrets: never in the command's environment. */
const WITHHELD_VARIABLES = ["BATON_PASSPHRASE", "BATON_STORE_KEY", "BATON_SERVER_TOKEN"] as const;

/** The command's environment: baton's, without its secrets, plus the token in `name`. */
const commandEnvironment = (
  parent: NodeJS.ProcessEnv,
  name: string,
  token: string,
): Record<string, string | undefined> => {
  const env: Record<string, string | undefined> = { ...parent };
  for (const variable of WITHHELD_VARIABLES) delete env[variable];
  env[name] = token;
  return env;
};

/** The status a shell would report for a command that exited with `code` or was killed by `signal`. */
const exitStatus = (code: number | null, signal: NodeJS.Signals | null): number => {
  if (code !== null) return code;
  const number = signal === null ? undefined : constants.signals[signal];
  return number === undefined ? 1 : 128 + number;
};

const START_PROBLEMS: Readonly<Record<string, string>> = {
  ENOENT: "not found",
  EACCES: "permission denied",
  ENOEXEC: "not an executable format",
  ERR_INVALID_ARG_VALUE: "an argument or environment value holds a NUL byte; if it is the token, log in again",
};

/**
 * Why the command could not be started, from the error's code alone, and the status for it (127 not found, 126
 * otherwise). Never the error's message: Node quotes offending environment values in it.
 */
const startFailure = (program: string, error: unknown): { readonly message: string; readonly status: number } => {
  const code =
    typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
      ? error.code
      : "error";
  const problem = START_PROBLEMS[code];
  return {
    message: `could not run ${program} (${code}${problem === undefined ? "" : `: ${problem}`})`,
    status: code === "ENOENT" ? 127 : 126,
  };
};

/** Runs the command to its end, forwarding signals to it; resolves with its exit status. */
const runCommand = (program: string, args: ReadonlyArray<string>, env: Record<string, string | undefined>) =>
  Effect.callback<number>((resume) => {
    const failed = (error: unknown) => {
      const failure = startFailure(program, error);
      process.stderr.write(`baton: ${failure.message}\n`);
      resume(Effect.succeed(failure.status));
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(program, args, { stdio: "inherit", env });
    } catch (error) {
      failed(error);
      return;
    }
    const forward = (signal: NodeJS.Signals) => {
      child.kill(signal);
    };
    for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
    const stopForwarding = () => {
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
    };
    child.on("error", (error) => {
      stopForwarding();
      failed(error);
    });
    child.on("exit", (code, signal) => {
      stopForwarding();
      resume(Effect.succeed(exitStatus(code, signal)));
    });
  });

export const execCommand = Command.make(
  "exec",
  {
    ref: Argument.String("ref").pipe(Argument.withDescription("PROVIDER:ACCOUNT")),
    env: Flag.String("env").pipe(
      Flag.withDescription("environment variable for the token"),
      Flag.withDefault("BATON_ACCESS_TOKEN"),
    ),
    command: Argument.String("command").pipe(
      Argument.withDescription("the command and its arguments, after --"),
      Argument.variadic(),
    ),
  },
  ({ ref, env: name, command }) =>
    Effect.gen(function* () {
      const environment = yield* CliEnvironment;
      const [program, ...args] = command;
      if (program === undefined)
        return yield* new InvalidInput({ reason: "argument", message: "name a command after --" });
      if (!ENV_NAME.test(name))
        return yield* new InvalidInput({ reason: "argument", message: `--env: "${name}" is not a variable name` });
      const account = yield* resolveAccount(environment.home, ref);
      const token = yield* (yield* Tokens.Tokens).accessToken(account);
      yield* (yield* Sessions).register(account, "exec");
      const status = yield* runCommand(program, args, commandEnvironment(process.env, name, token));
      yield* Effect.sync(() => {
        process.exitCode = status;
      });
    }).pipe(Effect.scoped),
).pipe(
  Command.withDescription("Run a command with a valid access token in its environment"),
  Command.withExamples([
    { command: "baton exec github:work -- gh api user", description: "token in BATON_ACCESS_TOKEN" },
    { command: "baton exec github:work --env GH_TOKEN -- gh repo list", description: "token in GH_TOKEN" },
  ]),
);
