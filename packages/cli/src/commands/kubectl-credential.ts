/**
 * `baton kubectl-credential REF`: kubectl's exec credential plugin (wire format in ../wire/exec-credential.ts). The
 * API version kubectl speaks is read from KUBERNETES_EXEC_INFO and checked before anything else; the token is valid
 * (refreshed under the protocol when needed) and `expirationTimestamp` is its expiry minus a skew margin
 * (../wire/hand-out.ts), so client-go asks again before it expires. Never interactive: a login that is needed is
 * exit 3 with the command to run on stderr. A thin client (BATON_SERVER) answers with the broker's hand-out.
 */

import { ProviderRegistry } from "@baton/adapters";
import { InvalidInput, Tokens } from "@baton/core";
import { Effect } from "effect";
import { Argument, Command } from "effect/cli";
import { CliEnvironment } from "../composition.ts";
import { resolveAccount } from "../resolve.ts";
import { thinAccountAnswer } from "../serve/thin-helpers.ts";
import { execApiVersion, execCredential, formatExecCredential } from "../wire/exec-credential.ts";
import { handOutExpiry, rfc3339 } from "../wire/hand-out.ts";

export const kubectlCredentialCommand = Command.make(
  "kubectl-credential",
  {
    ref: Argument.String("ref").pipe(Argument.withDescription("PROVIDER:ACCOUNT, or PROVIDER for its default account")),
  },
  ({ ref }) =>
    Effect.gen(function* () {
      const version = execApiVersion(process.env.KUBERNETES_EXEC_INFO);
      if (typeof version !== "string") return yield* new InvalidInput({ reason: "argument", message: version.problem });
      const env = yield* CliEnvironment;
      if (env.server !== undefined) {
        const answer = yield* thinAccountAnswer(env.server, ref, undefined);
        const thin = formatExecCredential(execCredential(version, answer.token, rfc3339(answer.expiresAt)));
        return yield* Effect.sync(() => process.stdout.write(thin));
      }
      const account = yield* resolveAccount(ref);
      const provider = yield* ProviderRegistry.getProvider(account.provider);
      const credentials = yield* (yield* Tokens.Tokens).credentials(account);
      const expiry = handOutExpiry(credentials, provider.revokesAccessTokenOnRefresh ?? false);
      const output = formatExecCredential(execCredential(version, credentials.accessToken, rfc3339(expiry)));
      yield* Effect.sync(() => process.stdout.write(output));
    }),
).pipe(
  Command.withDescription("kubectl exec credential plugin: an ExecCredential with a valid token and its expiry"),
  Command.withExamples([
    { command: "baton kubectl-credential corp:me", description: "what kubectl runs (see docs/integrations.md)" },
  ]),
);
