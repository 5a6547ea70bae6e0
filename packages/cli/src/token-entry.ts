/**
 * `baton token REF` when the fast path cannot answer (the token must be refreshed, or storage is the keychain): the
 * same command as commands/token.ts, run without loading effect/cli and the other commands, so that a herd of
 * processes hitting an expired token starts quickly. Errors and exit codes are the CLI's (exit-codes.ts).
 */
import { Tokens } from "@baton/core";
import { Cause, Effect, Exit } from "effect";
import { CliEnvironment, provideApp } from "./composition.ts";
import { EXIT, exitCodeOf, messageOf } from "./exit-codes.ts";
import { resolveAccount } from "./resolve.ts";

export const runToken = async (ref: string): Promise<number> => {
  const program = Effect.gen(function* () {
    const env = yield* CliEnvironment;
    const account = yield* resolveAccount(env.home, ref);
    const token = yield* (yield* Tokens.Tokens).accessToken(account);
    yield* Effect.sync(() => process.stdout.write(`${token}\n`));
  });
  const exit = await Effect.runPromiseExit(provideApp(program));
  if (Exit.isSuccess(exit)) return EXIT.ok;
  const error = Cause.findErrorOption(exit.cause);
  const failure = error._tag === "Some" ? error.value : Cause.squash(exit.cause);
  process.stderr.write(`baton: ${messageOf(failure)}\n`);
  return exitCodeOf(failure);
};
