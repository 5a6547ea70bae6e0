/**
 * `baton exec [REF] [--env NAME | --env NAME=REF …] [--min-valid DURATION] -- CMD ARGS…`: runs CMD with valid access
 * tokens in its environment — REF's in NAME (default BATON_ACCESS_TOKEN), and each `--env NAME=REF` pair's in NAME
 * (several accounts for one process) — registered as an active session of every account while it runs, and exits with
 * CMD's code. Tokens travel in the child's environment only, never in its arguments (I8). Which variables common
 * tools read, and how long tokens last for a run (`--min-valid`, the warning), see ../exec-tokens.ts and
 * docs/integrations.md.
 */
import { spawn } from "node:child_process";
import { InvalidInput, Sessions } from "@baton/core";
import { Effect, Option } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { CliEnvironment } from "../composition.ts";
import { parseDuration, planExec, tokensForRun } from "../exec-tokens.ts";

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
      const code = yield* Effect.callback<number>((resume) => {
        const child = spawn(program, args, { stdio: "inherit", env: { ...process.env, ...tokens.environment } });
        child.on("error", (error) => {
          process.stderr.write(`baton: could not run ${program}: ${error.message}\n`);
          resume(Effect.succeed(127));
        });
        child.on("exit", (exitCode, signal) => resume(Effect.succeed(exitCode ?? (signal === null ? 1 : 128))));
      });
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
