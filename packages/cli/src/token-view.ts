/**
 * What `baton token REF [--json]` does, apart from parsing: a valid access token for the account on stdout
 * (refreshing it under the protocol when needed), nothing else; with `json`, the token with its type, expiry, scope
 * and account from the same read (wire/token-json.ts). Used by commands/token.ts and, without loading effect/cli, by
 * lean-entry.ts.
 */
import { Tokens } from "@baton/core";
import { Clock, Effect } from "effect";
import { resolveAccount } from "./resolve.ts";
import { formatTokenJson, tokenJson } from "./wire/token-json.ts";

export const printToken = (ref: string, json = false) =>
  Effect.gen(function* () {
    const account = yield* resolveAccount(ref);
    const credentials = yield* (yield* Tokens.Tokens).credentials(account);
    const output = json
      ? formatTokenJson(
          tokenJson(`${account.provider}:${account.account}`, credentials, yield* Clock.currentTimeMillis),
        )
      : `${credentials.accessToken}\n`;
    yield* Effect.sync(() => process.stdout.write(output));
  });
