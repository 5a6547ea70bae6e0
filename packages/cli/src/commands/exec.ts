/**
 * `baton exec [REF] [--env NAME | --env NAME=REF …] [--min-valid DURATION] -- CMD ARGS…`: runs CMD with valid access
 * tokens in its environment — REF's in NAME (default BATON_ACCESS_TOKEN), and each `--env NAME=REF` pair's in NAME
 * (several accounts for one process) — registered as an active session of every account while it runs, and exits with
 * CMD's code. Which variables common tools read, and how long tokens last for a run (`--min-valid`, the warning), see
 * ../exec-tokens.ts and docs/integrations.md.
 *
 * - Tokens travel in the child's environment only, never in its arguments (I8). baton's own secrets
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
import { InvalidInput, Sessions } from "@baton/core";
import { Effect, Option } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { CliEnvironment } from "../composition.ts";
import { parseDuration, planExec, tokensForRun } from "../exec-tokens.ts";
import { forwardingSignals } from "../signals.ts";

/** Signals baton passes on to the command instead of dying of them. */
const FORWARDED_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;

/** baton's own secrets: never in the command's environment. */
const WITHHELD_VARIABLES = ["BATON_PASSPHRASE", "BATON_STORE_KEY", "BATON_SERVER_TOKEN"] as const;

/** The command's environment: baton's, without its secrets, plus the tokens. */
const commandEnvironment = (
  parent: NodeJS.ProcessEnv,
  tokens: Readonly<Record<string, string>>,
): Record<string, string | undefined> => {
  const env: Record<string, string | undefined> = { ...parent };
  for (const variable of WITHHELD_VARIABLES) delete env[variable];
  return { ...env, ...tokens };
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

/**
 * Runs the command to its end, forwarding signals to it (baton's own stop-on-signal is set aside meanwhile:
 * ../signals.ts); resolves with its exit status.
 */
const runCommand = (program: string, args: ReadonlyArray<string>, env: Record<string, string | undefined>) =>
  forwardingSignals(
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
    }),
  );

export const execCommand = Command.make(
  "exec",
  {
    ref: Argument.String("ref").pipe(
      Argument.withDescription("PROVIDER:ACCOUNT (omit it when every --env is NAME=REF)"),
      Argument.optional,
    ),
    env: Flag.String("env").pipe(
      Flag.withDescription("NAME for REF's token (default BATON_ACCESS_TOKEN), or NAME=REF (repeatable)"),
      Flag.atLeast(0),
    ),
    minValid: Flag.String("min-valid").pipe(
      Flag.withDescription("refresh first if the token lasts less than this (e.g. 30m, 1h30m, 90s)"),
      Flag.optional,
    ),
    command: Argument.String("command").pipe(
      Argument.withDescription("the command and its arguments, after --"),
      Argument.variadic(),
    ),
  },
  ({ ref, env: envs, minValid, command }) =>
    Effect.gen(function* () {
      const environment = yield* CliEnvironment;
      const plan = planExec(envs, [...Option.toArray(ref), ...command]);
      if (plan instanceof InvalidInput) return yield* plan;
      const minValidMs = Option.isSome(minValid) ? parseDuration(minValid.value) : undefined;
      if (Option.isSome(minValid) && minValidMs === undefined) {
        return yield* new InvalidInput({
          reason: "argument",
          message: `--min-valid: "${minValid.value}" is not a duration (e.g. 30m, 1h30m, 90s)`,
        });
      }
      const [program, ...args] = plan.command;
      if (program === undefined)
        return yield* new InvalidInput({ reason: "argument", message: "name a command after --" });
      const tokens = yield* tokensForRun(environment.home, plan, minValidMs);
      for (const account of tokens.accounts) yield* (yield* Sessions).register(account, "exec");
      const code = yield* runCommand(program, args, commandEnvironment(process.env, tokens.environment));
      yield* Effect.sync(() => {
        process.exitCode = code;
      });
    }).pipe(Effect.scoped),
).pipe(
  Command.withDescription("Run a command with valid access tokens in its environment"),
  Command.withExamples([
    { command: "baton exec github:work -- gh api user", description: "token in BATON_ACCESS_TOKEN" },
    { command: "baton exec github:work --env GH_TOKEN -- gh repo list", description: "token in GH_TOKEN" },
    {
      command: "baton exec --env GH_TOKEN=github:work --env CLAUDE_CODE_OAUTH_TOKEN=claude -- ./agent.sh",
      description: "two accounts for one process",
    },
    { command: "baton exec github:work --min-valid 1h -- make release", description: "a token good for an hour" },
  ]),
);
