/**
 * `baton login`: the authorization code grant with PKCE (S256) and a loopback redirect, the way RFC 8252 says a
 * native app signs in.
 *
 *   1. listen on 127.0.0.1:<ephemeral> (loopback-listener.ts), redirect_uri `http://127.0.0.1:PORT/callback`;
 *   2. build the authorization URL (client_id, redirect_uri, scope, random `state`, S256 `code_challenge`), hand it to
 *      `onUrl` so the CLI can print it, and open the browser unless told not to (failure to open is fine);
 *   3. wait for the callback (default 5 minutes), validate it with oauth4webapi's `validateAuthResponse`: `state`
 *      must match (CSRF, RFC 6749 §10.12) and `iss` must be the issuer (RFC 9207 §2.4; required when the metadata
 *      says the server sends it);
 *   4. exchange the code with the verifier (RFC 7636 §4.5) and validate the answer;
 *   5. show the browser a small success or failure page; the listener is closed afterwards whatever happened.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.3
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4
 * @see https://www.rfc-editor.org/rfc/rfc9207#section-2.4
 */
import { Effect, Exit } from "effect";
import * as oauth from "oauth4webapi";
import { authorizationServer, client, clientAuthentication, type OAuthTarget, requestOptions } from "./client.ts";
import { LoginFailed, safeErrorCode, safeServerText } from "./errors.ts";
import { grantFailure, type LoginResult, loginResult } from "./grant.ts";
import { type HttpOptions, newExchange } from "./http.ts";
import { type CallbackRequest, type LoopbackListener, listen, page } from "./loopback-listener.ts";

export type { LoginResult } from "./grant.ts";

export const DEFAULT_LOGIN_TIMEOUT_MS = 5 * 60 * 1000;

export interface Listening {
  readonly port: number;
  readonly redirectUri: string;
  readonly authorizationUrl: string;
}

export interface LoopbackLoginOptions {
  readonly target: OAuthTarget;
  /** Space-separated scopes to ask for; the provider's default when absent. */
  readonly scope?: string | undefined;
  /** Open the system browser (`open` / `xdg-open` / `start`). Default true. */
  readonly openBrowser?: boolean;
  /** Called with the authorization URL once the listener is ready (print it for `--no-browser`). */
  readonly onUrl?: (url: string) => void;
  /** Called with the port and URLs once the listener is ready (tests drive the browser side with it). */
  readonly onListening?: (listening: Listening) => void;
  /** How long to wait for the browser to come back. Default 5 minutes. */
  readonly timeoutMs?: number;
  readonly http?: HttpOptions;
}

/**
 * The authorization request URL.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.1
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.3
 */
export const authorizationUrl = (
  target: OAuthTarget,
  parameters: {
    readonly redirectUri: string;
    readonly state: string;
    readonly codeChallenge: string;
    readonly scope: string | undefined;
  },
): URL | LoginFailed => {
  const endpoint = target.metadata.authorization_endpoint;
  if (endpoint === undefined) {
    return new LoginFailed({
      reason: "unsupported",
      message: `${target.issuer} advertises no authorization_endpoint; use the device flow (--device)`,
    });
  }
  const url = new URL(endpoint);
  url.searchParams.set("client_id", target.clientId);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("redirect_uri", parameters.redirectUri);
  if (parameters.scope !== undefined) url.searchParams.set("scope", parameters.scope);
  url.searchParams.set("state", parameters.state);
  url.searchParams.set("code_challenge", parameters.codeChallenge);
  url.searchParams.set("code_challenge_method", "S256");
  // The provider's extra parameters (e.g. Google's access_type=offline), never replacing one of the above.
  for (const [key, value] of Object.entries(target.authorizationParameters ?? {})) {
    if (!url.searchParams.has(key)) url.searchParams.set(key, value);
  }
  return url;
};

/**
 * Validates the callback: `state`, RFC 9207 `iss`, and an error answer.
 * @see https://www.rfc-editor.org/rfc/rfc9207#section-2.4
 */
export const processCallback = (target: OAuthTarget, callback: URL, state: string): URLSearchParams | LoginFailed => {
  const iss = callback.searchParams.get("iss");
  try {
    return oauth.validateAuthResponse(authorizationServer(target), client(target), callback.searchParams, state);
  } catch (error) {
    if (error instanceof oauth.AuthorizationResponseError) {
      const code = safeErrorCode(error.error);
      const description = safeServerText(error.error_description);
      return new LoginFailed({
        reason: code === "access_denied" ? "access_denied" : "authorization_error",
        message: `the authorization server refused: ${code ?? "error"}${description === undefined ? "" : ` (${description})`}`,
        ...(code === undefined ? {} : { error: code }),
        ...(description === undefined ? {} : { errorDescription: description }),
      });
    }
    const message = error instanceof Error ? error.message : "";
    if (message.includes('"state"')) {
      return new LoginFailed({
        reason: "state_mismatch",
        message: "the browser came back with a different state than this login sent; refusing it (possible CSRF)",
      });
    }
    if (message.includes('"iss"')) {
      return new LoginFailed({
        reason: "issuer_mismatch",
        message: `the authorization response names the issuer "${safeServerText(iss) ?? "(none)"}", not ${target.issuer} (RFC 9207); refusing it`,
      });
    }
    return new LoginFailed({ reason: "authorization_error", message: "the authorization response is invalid" });
  }
};

/**
 * Sends the code and the PKCE verifier to the token endpoint and processes the answer.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3
 */
export const exchangeCode = (
  target: OAuthTarget,
  parameters: URLSearchParams,
  redirectUri: string,
  verifier: string,
  scope: string | undefined,
  http: HttpOptions = {},
): Effect.Effect<LoginResult, LoginFailed> =>
  Effect.tryPromise({
    try: async (signal) => {
      const as = authorizationServer(target);
      const options = requestOptions(target.issuer, http, newExchange(), signal);
      const response = await oauth.authorizationCodeGrantRequest(
        as,
        client(target),
        clientAuthentication(target),
        parameters,
        redirectUri,
        verifier,
        options,
      );
      return loginResult(await oauth.processAuthorizationCodeResponse(as, client(target), response), scope);
    },
    catch: (error) =>
      grantFailure(error, "exchanging the authorization code", [verifier, parameters.get("code") ?? ""]),
  }).pipe(Effect.flatMap((result) => (result instanceof LoginFailed ? Effect.fail(result) : Effect.succeed(result))));

/**
 * Opens `url` in the user's browser, ignoring every failure (the URL was printed too). `node:child_process` (and the
 * `net` and `dgram` modules it loads) is imported here, when a browser is opened, not by every command that loads
 * the adapters (docs/performance.md: start-up of `baton token`).
 */
export const openInBrowser = (url: string): void => {
  const [command, args] =
    process.platform === "darwin"
      ? ["open", [url]]
      : process.platform === "win32"
        ? ["cmd", ["/c", "start", '""', url.replace(/&/g, "^&")]]
        : ["xdg-open", [url]];
  import("node:child_process")
    .then(({ spawn }) => {
      const child = spawn(command, args, { stdio: "ignore", detached: true, windowsVerbatimArguments: true });
      child.on("error", () => undefined);
      child.unref();
    })
    .catch(() => {
      // No browser here: the printed URL is the way.
    });
};

const awaitCallback = (listener: LoopbackListener, timeoutMs: number): Effect.Effect<CallbackRequest, LoginFailed> =>
  Effect.promise(() => listener.callback).pipe(
    Effect.timeoutOrElse({
      duration: timeoutMs,
      orElse: () =>
        Effect.fail(
          new LoginFailed({
            reason: "timeout",
            message: `no answer from the browser within ${Math.round(timeoutMs / 1000)} s; run the login again (or use --device)`,
          }),
        ),
    }),
  );

const run = (options: LoopbackLoginOptions, listener: LoopbackListener): Effect.Effect<LoginResult, LoginFailed> =>
  Effect.gen(function* () {
    const { target } = options;
    const verifier = oauth.generateRandomCodeVerifier();
    const codeChallenge = yield* Effect.promise(() => oauth.calculatePKCECodeChallenge(verifier));
    const state = oauth.generateRandomState();
    const url = authorizationUrl(target, {
      redirectUri: listener.redirectUri,
      state,
      codeChallenge,
      scope: options.scope,
    });
    if (url instanceof LoginFailed) return yield* url;
    yield* Effect.sync(() => {
      options.onListening?.({ port: listener.port, redirectUri: listener.redirectUri, authorizationUrl: url.href });
      options.onUrl?.(url.href);
      if (options.openBrowser !== false) openInBrowser(url.href);
    });
    const callback = yield* awaitCallback(listener, options.timeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS);
    const outcome = yield* Effect.exit(
      Effect.suspend(() => {
        const parameters = processCallback(target, callback.url, state);
        return parameters instanceof LoginFailed
          ? Effect.fail(parameters)
          : exchangeCode(target, parameters, listener.redirectUri, verifier, options.scope, options.http);
      }),
    );
    const html = Exit.isSuccess(outcome)
      ? page("Signed in", "baton has your tokens. You can close this tab and return to the terminal.")
      : page("Sign-in failed", "baton could not complete the sign-in. The terminal shows why.");
    yield* Effect.promise(() => callback.respond(Exit.isSuccess(outcome) ? 200 : 400, html));
    return yield* outcome;
  });

/** Signs in through the browser and returns the tokens. The listener is closed in every case. */
export const login = (options: LoopbackLoginOptions): Effect.Effect<LoginResult, LoginFailed> =>
  Effect.acquireUseRelease(
    Effect.tryPromise({
      try: () => listen(),
      catch: (error) =>
        new LoginFailed({
          reason: "listen_failed",
          message: `could not listen on 127.0.0.1 for the browser's answer (${error instanceof Error ? error.message : "error"})`,
        }),
    }),
    (listener) => run(options, listener),
    (listener) => Effect.promise(() => listener.close()),
  );
