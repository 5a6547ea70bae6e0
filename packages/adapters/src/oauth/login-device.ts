/**
 * `baton login --device`: the device authorization grant (RFC 8628) for machines without a browser (SSH, CI).
 *
 *   1. request a device code (client_id, scope) from the device authorization endpoint;
 *   2. `onPrompt` shows the user code and the verification URI (control characters stripped: they end up on a
 *      terminal);
 *   3. poll the token endpoint, waiting `interval` seconds between polls — the override if given, else the server's,
 *      else the default (5 s, RFC 8628 §3.2; oidc-provider sends none). `authorization_pending` keeps polling,
 *      `slow_down` adds 5 s to the interval for good (§3.5), `access_denied` and `expired_token` end the login, and
 *      so does reaching `expires_in`. Connection failures and 5xx/429 answers back off (the interval doubles, up to a
 *      minute) and polling goes on until the code expires.
 *
 * Waiting uses Effect's Clock, so a TestClock can drive it.
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3
 */
import { Clock, Effect } from "effect";
import * as oauth from "oauth4webapi";
import { authorizationServer, client, clientAuthentication, type OAuthTarget, requestOptions } from "./client.ts";
import { LoginFailed } from "./errors.ts";
import { grantFailure, type LoginResult, loginResult } from "./grant.ts";
import { type HttpOptions, newExchange, TransportError } from "./http.ts";

export type { LoginResult } from "./grant.ts";

export const DEFAULT_INTERVAL_SECONDS = 5;
export const SLOW_DOWN_SECONDS = 5;
const MAX_BACKOFF_SECONDS = 60;

export interface DevicePrompt {
  readonly userCode: string;
  readonly verificationUri: string;
  readonly verificationUriComplete?: string;
  /** Seconds until the code expires. */
  readonly expiresIn: number;
}

export interface DeviceLoginOptions {
  readonly target: OAuthTarget;
  readonly scope?: string | undefined;
  readonly onPrompt: (prompt: DevicePrompt) => void;
  /** Seconds between polls, overriding the server's `interval` (tests; servers known to allow it). */
  readonly intervalSeconds?: number;
  /** Seconds between polls when the server sends no `interval`. Default 5 (RFC 8628 §3.2). */
  readonly defaultIntervalSeconds?: number;
  /** Seconds added on `slow_down`. Default 5 (RFC 8628 §3.5). */
  readonly slowDownSeconds?: number;
  readonly http?: HttpOptions;
}

const printable = (text: string): string =>
  Array.from(text)
    .filter((char) => {
      const code = char.codePointAt(0) ?? 0;
      return code >= 0x20 && !(code >= 0x7f && code <= 0x9f);
    })
    .join("");

/**
 * Sends the device authorization request.
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.1
 */
export const sendDeviceAuthorizationRequest = (
  target: OAuthTarget,
  scope: string | undefined,
  http: HttpOptions = {},
  signal?: AbortSignal,
): Promise<Response> =>
  oauth.deviceAuthorizationRequest(
    authorizationServer(target),
    client(target),
    clientAuthentication(target),
    scope === undefined ? {} : { scope },
    requestOptions(target.issuer, http, newExchange(), signal),
  );

/**
 * Processes the device authorization response (types and required fields checked by oauth4webapi).
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.2
 */
export const processDeviceAuthorization = (
  target: OAuthTarget,
  response: Response,
): Promise<oauth.DeviceAuthorizationResponse> =>
  oauth.processDeviceAuthorizationResponse(authorizationServer(target), client(target), response);

type Poll =
  | { readonly _tag: "done"; readonly result: LoginResult }
  | { readonly _tag: "pending" }
  | { readonly _tag: "slow_down" }
  | { readonly _tag: "backoff" };

/**
 * One poll of the token endpoint with the device code, classified.
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.4
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5
 */
export const pollOnce = (
  target: OAuthTarget,
  deviceCode: string,
  scope: string | undefined,
  http: HttpOptions = {},
): Effect.Effect<Poll, LoginFailed> =>
  Effect.tryPromise({
    try: async (signal): Promise<Poll> => {
      const as = authorizationServer(target);
      const options = requestOptions(target.issuer, http, newExchange(), signal);
      let response: Response;
      try {
        response = await oauth.deviceCodeGrantRequest(
          as,
          client(target),
          clientAuthentication(target),
          deviceCode,
          options,
        );
      } catch (error) {
        if (error instanceof TransportError) return { _tag: "backoff" };
        throw error;
      }
      if (response.status >= 500 || response.status === 429) return { _tag: "backoff" };
      try {
        const result = loginResult(await oauth.processDeviceCodeResponse(as, client(target), response), scope);
        if (result instanceof LoginFailed) throw result;
        return { _tag: "done", result };
      } catch (error) {
        if (!(error instanceof oauth.ResponseBodyError)) throw error;
        switch (error.error) {
          case "authorization_pending":
            return { _tag: "pending" };
          case "slow_down":
            return { _tag: "slow_down" };
          case "access_denied":
            throw new LoginFailed({
              reason: "access_denied",
              error: "access_denied",
              message: "the sign-in was denied",
            });
          case "expired_token":
            throw new LoginFailed({
              reason: "expired",
              error: "expired_token",
              message: "the device code expired before the sign-in was approved; run the login again",
            });
          default:
            throw error;
        }
      }
    },
    catch: (error) => grantFailure(error, "polling for the device sign-in", [deviceCode]),
  });

const expired = new LoginFailed({
  reason: "expired",
  message: "the device code expired before the sign-in was approved; run the login again",
});

/** Signs in with the device flow and returns the tokens. */
export const login = (options: DeviceLoginOptions): Effect.Effect<LoginResult, LoginFailed> =>
  Effect.gen(function* () {
    const { target, scope } = options;
    if (target.metadata.device_authorization_endpoint === undefined) {
      return yield* new LoginFailed({
        reason: "unsupported",
        message: `${target.issuer} advertises no device_authorization_endpoint (RFC 8628); use the browser login`,
      });
    }
    const authorization = yield* Effect.tryPromise({
      try: async (signal) =>
        processDeviceAuthorization(target, await sendDeviceAuthorizationRequest(target, scope, options.http, signal)),
      catch: (error) => grantFailure(error, "requesting a device code", []),
    });
    const start = yield* Clock.currentTimeMillis;
    const deadline = start + authorization.expires_in * 1000;
    yield* Effect.sync(() =>
      options.onPrompt({
        userCode: printable(authorization.user_code),
        verificationUri: printable(authorization.verification_uri),
        ...(authorization.verification_uri_complete === undefined
          ? {}
          : { verificationUriComplete: printable(authorization.verification_uri_complete) }),
        expiresIn: authorization.expires_in,
      }),
    );
    let interval =
      options.intervalSeconds ?? authorization.interval ?? options.defaultIntervalSeconds ?? DEFAULT_INTERVAL_SECONDS;
    let wait = interval;
    for (;;) {
      yield* Effect.sleep(wait * 1000);
      if ((yield* Clock.currentTimeMillis) >= deadline) return yield* expired;
      const poll = yield* pollOnce(target, authorization.device_code, scope, options.http);
      switch (poll._tag) {
        case "done":
          return poll.result;
        case "pending":
          wait = interval;
          break;
        case "slow_down":
          interval += options.slowDownSeconds ?? SLOW_DOWN_SECONDS;
          wait = interval;
          break;
        case "backoff":
          wait = Math.min(Math.max(wait, interval) * 2, Math.max(MAX_BACKOFF_SECONDS, interval));
          break;
      }
    }
  });
