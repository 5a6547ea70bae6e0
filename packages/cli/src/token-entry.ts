/**
 * `baton token REF` when the fast path cannot answer (the token must be refreshed, or storage is the keychain): the
 * same command as commands/token.ts, run without loading effect/cli and the other commands, so that a herd of
 * processes hitting an expired token starts quickly. Errors and exit codes are the CLI's (exit-report.ts).
 */
import { Tokens } from "@baton/core";
import { Effect } from "effect";
import { CliEnvironment, provideApp } from "./composition.ts";
import { exitCodeAfter } from "./exit-report.ts";
import { resolveAccount } from "./resolve.ts";
import { exitCodeOfRun, runInterruptibly } from "./signals.ts";

export const runToken = async (ref: string): Promise<number> => {
  const program = Effect.gen(function* () {
    const env = yield* CliEnvironment;
    const account = yield* resolveAccount(env.home, ref);
    const token = yield* (yield* Tokens.Tokens).accessToken(account);
    yield* Effect.sync(() => process.stdout.write(`${token}\n`));
  });
  return exitCodeOfRun(await runInterruptibly(provideApp(program)), exitCodeAfter);
};
