/**
 * The demo's set-up: the local authorization server (loaded lazily, so oidc-provider costs nothing to other
 * commands), the provider registered by discovery, and a headless login — the real PKCE flow through the loopback
 * listener, with the devserver's scripted user approving in place of a browser.
 */
import { Discovery, LoopbackLogin, ProviderConfig, ProviderRegistry } from "@baton/adapters";
import { type AccountRef, storeNewCredentials } from "@baton/core";
import { Effect } from "effect";

export type DemoServer = Awaited<ReturnType<typeof import("@baton/devserver")["startAuthorizationServer"]>>;

export const startDemoServer = async (accessTokenTtlSeconds: number, latencyMs: number): Promise<DemoServer> => {
  const devserver = await import("@baton/devserver");
  return devserver.startAuthorizationServer({ accessTokenTtlSeconds, latencyMs });
};

/** Registers the demo's provider in the registry in use (discovery against the local server). */
export const registerDemoProvider = (server: DemoServer, account: AccountRef) =>
  Effect.gen(function* () {
    const provider = yield* ProviderRegistry.addProvider(
      { name: account.provider, issuer: server.issuer, clientId: server.clientId, scope: server.scopes },
      Discovery.discover,
    );
    yield* ProviderRegistry.setDefaultAccount(account.provider, account.account);
    return provider;
  });

/** A headless login at the provider: a new grant (token family) of its own. */
export const headlessLogin = (server: DemoServer, provider: ProviderConfig.StoredProvider) =>
  Effect.gen(function* () {
    const target = yield* Discovery.targetFor(provider);
    const devserver = yield* Effect.promise(() => import("@baton/devserver"));
    const result = yield* LoopbackLogin.login({
      target,
      scope: server.scopes,
      openBrowser: false,
      onUrl: (url) => {
        void devserver.approveAuthorization(url, { deliver: true });
      },
    });
    return result.tokens;
  });

/** Registers the provider and logs `account` in, storing generation 1 in the store in use. */
export const loginDemoAccount = (server: DemoServer, account: AccountRef) =>
  Effect.gen(function* () {
    const provider = yield* registerDemoProvider(server, account);
    const tokens = yield* headlessLogin(server, provider);
    return yield* storeNewCredentials(account, ProviderConfig.toProfile(provider), tokens, "login");
  });
