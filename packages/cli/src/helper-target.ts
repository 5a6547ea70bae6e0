/**
 * Which account, provider record and user name answer a credential helper's request (git, docker): the account
 * named on the command line, or the one `baton host add` mapped to the host (config.json `credentialHosts`). The
 * user name is the first of: the command line, the host mapping, the provider (presets set one, e.g. GitHub's
 * `x-access-token`), `oauth2`. `undefined` when nothing is mapped to the host: the helper then stays silent (git)
 * or says "not found" (docker), and the tool goes on without baton.
 */
import { CredentialHosts, ProviderConfig, ProviderRegistry } from "@baton/adapters";
import type { AccountRef } from "@baton/core";
import { Effect } from "effect";
import { resolveAccount } from "./resolve.ts";

export interface HelperTarget {
  readonly account: AccountRef;
  readonly provider: ProviderConfig.StoredProvider;
  readonly username: string;
}

export const helperTarget = (
  kind: CredentialHosts.HelperKind,
  host: string,
  named: { readonly account: string | undefined; readonly username: string | undefined },
) =>
  Effect.gen(function* () {
    const mapped = named.account === undefined ? yield* CredentialHosts.lookupCredentialHost(kind, host) : undefined;
    const ref = named.account ?? mapped?.account;
    if (ref === undefined) return undefined;
    const account = yield* resolveAccount(ref);
    const provider = yield* ProviderRegistry.getProvider(account.provider);
    const username = named.username ?? mapped?.username ?? provider.username ?? ProviderConfig.DEFAULT_USERNAME;
    return { account, provider, username } satisfies HelperTarget;
  });
