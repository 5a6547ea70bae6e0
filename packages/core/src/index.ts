/**
 * @baton/core — the pure domain of baton: account references, credentials, events, the lifecycle machine and its
 * replay fold, timing policies, typed errors, the ports (as Effect services) and the refresh protocol. No platform
 * imports and no wall clock: adapters provide the ports, Effect's Clock provides time.
 */
export * from "./account.ts";
export * from "./credentials.ts";
export * from "./errors.ts";
export * from "./events.ts";
export * from "./fingerprint.ts";
export * from "./fold-checkpoint.ts";
export * from "./lifecycle.ts";
export * as Memory from "./memory/index.ts";
export * from "./policy.ts";
export * from "./ports/claim-store.ts";
export * from "./ports/event-store.ts";
export * from "./ports/host.ts";
export * from "./ports/lock.ts";
export * from "./ports/providers.ts";
export * from "./ports/secret-store.ts";
export * from "./ports/sessions.ts";
export * from "./ports/token-endpoint.ts";
export * from "./protocol/claims.ts";
export * from "./protocol/flight.ts";
export { record } from "./protocol/journal.ts";
export * from "./protocol/lock-wait.ts";
export * from "./protocol/refresh.ts";
export * from "./protocol/settings.ts";
export * from "./protocol/single-flight.ts";
export * from "./protocol/status.ts";
export * from "./protocol/store-login.ts";
export * as Tokens from "./protocol/tokens.ts";
export * from "./replay.ts";
