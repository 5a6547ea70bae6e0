/**
 * What `baton token REF` does, apart from parsing: a valid access token for the account on stdout (refreshing it
 * under the protocol when needed), nothing else. Used by commands/token.ts and, without loading effect/cli, by
 * lean-entry.ts.
 */
import { Tokens } from "@baton/core";
import { Effect } from "effect";
import { CliEnvironment } from "./composition.ts";
import { resolveAccount } from "./resolve.ts";

export const printToken = (ref: string) =>
  Effect.gen(function* () {
    const env = yield* CliEnvironment;
    const account = yield* resolveAccount(env.home, ref);
    const token = yield* (yield* Tokens.Tokens).accessToken(account);
    yield* Effect.sync(() => process.stdout.write(`${token}\n`));
  });
