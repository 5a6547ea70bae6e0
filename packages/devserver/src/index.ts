/**
 * Public API of baton's local authorization server (`@baton/devserver`): start and control the server,
 * act as the user in the authorization code and device flows, and the constants tests build requests from.
 */
export {
  type AuthorizationServer,
  type AuthorizationServerOptions,
  type IntrospectionClient,
  LOOPBACK_HOST,
  startAuthorizationServer,
} from "./authorization-server.ts";
export { CONTROL_PATH_PREFIX, type ControlTarget } from "./control-api.ts";
export { CookieJar } from "./cookie-jar.ts";
export {
  type ApproveAuthorizationOptions,
  type AuthorizationServerAddress,
  approveAuthorization,
  approveDeviceCode,
  denyDeviceCode,
  HeadlessUserError,
} from "./headless-user.ts";
export { isTokenActive } from "./introspection.ts";
export { GATEWAY_STATUSES, type GatewayStatus, type LostAnswer, parseLostAnswer } from "./lost-answers.ts";
export type { ProviderBehaviour, RotationMode } from "./provider-behaviour.ts";
export {
  DEMO_ACCOUNT_ID,
  DEVICE_CODE_GRANT_TYPE,
  INTROSPECTOR_CLIENT_ID,
  LOOPBACK_REDIRECT_URI,
  NEIGHBOUR_CLIENT_ID,
  ROUTES,
} from "./provider-configuration.ts";
export type { ServerCounters } from "./server-counters.ts";
export { type InitialLostAnswers, parseStandaloneOptions, type StandaloneOptions } from "./standalone-options.ts";
export {
  type SpawnStandaloneOptions,
  type StandaloneAuthorizationServer,
  spawnStandaloneAuthorizationServer,
} from "./standalone-process.ts";
