/**
 * `baton login REF [--device] [--no-browser]`: authorization code + PKCE S256 through a loopback redirect on
 * 127.0.0.1 (RFC 8252), or the device authorization grant (RFC 8628) for SSH and headless machines. The new
 * credentials are stored as the account's next generation under the account lock; the first account of a provider
 * becomes its default.
 */
import { DeviceLogin, Discovery, LoopbackLogin, ProviderConfig, ProviderRegistry } from "@baton/adapters";
import {
  type AccountRef,
  accountKey,
  type Identity,
  InvalidInput,
  LoginRequired,
  Retryable,
  SecretStore,
  storeNewCredentials,
} from "@baton/core";
import { Effect } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { parseRef } from "../resolve.ts";

/** The non-secret identity claims of a validated ID token. */
const identityOf = (claims: Readonly<Record<string, unknown>> | undefined): Identity | undefined => {
  if (claims === undefined) return undefined;
  const text = (value: unknown) =>
    typeof value === "string" && value.length > 0 && value.length <= 256 ? value : undefined;
  const subject = text(claims.sub);
  const email = text(claims.email);
  const name = text(claims.name) ?? text(claims.preferred_username);
  if (subject === undefined && email === undefined && name === undefined) return undefined;
  return {
    ...(subject === undefined ? {} : { subject }),
    ...(email === undefined ? {} : { email }),
    ...(name === undefined ? {} : { name }),
  };
};

const spinner = (enabled: boolean, text: string) => {
  if (!enabled) {
    process.stderr.write(`${text}\n`);
    return () => undefined;
  }
  const frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
  let i = 0;
  const timer = setInterval(() => process.stderr.write(`\r${frames[i++ % frames.length]} ${text}`), 100);
  return () => {
    clearInterval(timer);
    process.stderr.write("\r\u001b[K");
  };
};

/** A login failure as the exit-code contract sees it. */
const mapLoginFailure = (account: string) => (failure: { readonly reason: string; readonly message: string }) =>
  failure.reason === "network" ||
  failure.reason === "server_error" ||
  failure.reason === "listen_failed" ||
  failure.reason === "timeout"
    ? new Retryable({ account, reason: "network", message: `login failed: ${failure.message}` })
    : failure.reason === "unsupported"
      ? new InvalidInput({ reason: "config", message: `login failed: ${failure.message}` })
      : new LoginRequired({ account, reason: "no-credentials", message: `login failed: ${failure.message}` });

export const loginCommand = Command.make(
  "login",
  {
    ref: Argument.String("ref").pipe(
      Argument.withDescription('PROVIDER:ACCOUNT (a bare PROVIDER logs into its default account, or "default")'),
    ),
    device: Flag.Boolean("device").pipe(
      Flag.withDescription("use the device flow (RFC 8628), for SSH and headless machines"),
      Flag.withDefault(false),
    ),
    noBrowser: Flag.Boolean("no-browser").pipe(
      Flag.withDescription("print the URL instead of opening a browser"),
      Flag.withDefault(false),
    ),
  },
  ({ ref, device, noBrowser }) =>
    Effect.gen(function* () {
      const parsed = yield* parseRef(ref);
      const fallback = parsed.account ?? (yield* ProviderRegistry.defaultAccount(parsed.provider)) ?? "default";
      const account: AccountRef = { provider: parsed.provider, account: fallback };
      const key = accountKey(account);
      const provider = yield* ProviderRegistry.getProvider(parsed.provider);
      yield* SecretStore.use((store) => store.probe(account)).pipe(
        Effect.mapError(
          (failure) =>
            new Retryable({
              account: key,
              reason: "store-unavailable",
              message: `cannot log in ${key}: the secret store cannot keep new tokens (${failure.message}); nothing was started`,
            }),
        ),
      );
      const target = yield* Discovery.targetFor(provider);
      const interactive = process.stderr.isTTY === true;
      const useDevice = device || provider.deviceOnly;
      let stop: () => unknown = () => undefined;
      const result = yield* (
        useDevice
          ? DeviceLogin.login({
              target,
              ...(provider.scope === undefined ? {} : { scope: provider.scope }),
              onPrompt: (prompt) => {
                process.stderr.write(
                  `To log in ${key}, open ${prompt.verificationUri} and enter the code ${prompt.userCode}` +
                    `${prompt.verificationUriComplete ? `\n(or open ${prompt.verificationUriComplete})` : ""}\n`,
                );
                stop = spinner(interactive, "waiting for approval…");
              },
            })
          : LoopbackLogin.login({
              target,
              ...(provider.scope === undefined ? {} : { scope: provider.scope }),
              openBrowser: !noBrowser,
              onUrl: (url) => {
                process.stderr.write(`${noBrowser ? "Open" : "Opening"} this URL to log in ${key}:\n${url}\n`);
                stop = spinner(interactive, "waiting for the browser…");
              },
            })
      ).pipe(Effect.ensuring(Effect.sync(() => stop())), Effect.mapError(mapLoginFailure(key)));
      const identity = identityOf(result.idTokenClaims);
      const tokens = identity === undefined ? result.tokens : { ...result.tokens, identity };
      const stored = yield* storeNewCredentials(account, ProviderConfig.toProfile(provider), tokens, "login");
      if ((yield* ProviderRegistry.defaultAccount(account.provider)) === undefined) {
        yield* ProviderRegistry.setDefaultAccount(account.provider, account.account);
      }
      yield* Effect.sync(() => process.stderr.write(`logged in ${key} (generation ${stored.generation})\n`));
    }),
).pipe(
  Command.withDescription("Log in to an account (browser with PKCE, or --device)"),
  Command.withExamples([
    { command: "baton login github:work", description: "log in with the browser" },
    { command: "baton login github:work --device", description: "log in from an SSH session" },
  ]),
);
