/**
 * The provider registry (`<BATON_HOME>/config.json`): its schema and decoder (`ProviderConfig`), the registry
 * operations plus the core `ProviderDirectory` layer (`ProviderRegistry`), and the lock serializing its changes
 * across processes (`ConfigLock`).
 */
export * as ConfigLock from "./config-lock.ts";
export * as ProviderConfig from "./provider-config.ts";
export * as ProviderRegistry from "./provider-registry.ts";
