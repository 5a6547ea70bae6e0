/**
 * baton's OAuth adapters on oauth4webapi: metadata discovery, the core `TokenEndpoint` (refresh grant), the two
 * login flows (loopback PKCE, device), revocation, the HTTP transport under all of them, and the rules every token
 * baton stores must meet (also applied to imported tokens).
 */

export * as OAuthClient from "./client.ts";
export * as Discovery from "./discovery.ts";
export { LoginFailed } from "./errors.ts";
export type { LoginResult } from "./grant.ts";
export * as OAuthHttp from "./http.ts";
export * as DeviceLogin from "./login-device.ts";
export * as LoopbackLogin from "./login-loopback.ts";
export * as Revocation from "./revoke.ts";
export * as OAuthTokenEndpoint from "./token-endpoint.ts";
export * as TokenRules from "./token-rules.ts";
