/**
 * `baton exec REF [--env NAME] -- CMD ARGS…`: runs CMD with a valid access token in NAME (default
 * BATON_ACCESS_TOKEN), registered as an active session of the account while it runs, and exits with CMD's code.
 * The token travels in the child's environment only, never in its arguments (I8).
 */
import { spawn } from "node:child_process";
import { InvalidInput, Sessions, Tokens } from "@baton/core";
import { Effect } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { CliEnvironment } from "../composition.ts";
import { resolveAccount } from "../resolve.ts";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

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
      const code = yield* Effect.callback<number>((resume) => {
        const child = spawn(program, args, { stdio: "inherit", env: { ...process.env, [name]: token } });
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
  Command.withDescription("Run a command with a valid access token in its environment"),
  Command.withExamples([
    { command: "baton exec github:work -- gh api user", description: "token in BATON_ACCESS_TOKEN" },
    { command: "baton exec github:work --env GH_TOKEN -- gh repo list", description: "token in GH_TOKEN" },
  ]),
);
