/**
 * The provider registry (`<BATON_HOME>/config.json`): its schema and decoder (`ProviderConfig`) and the registry
 * operations plus the core `ProviderDirectory` layer (`ProviderRegistry`).
 */
export * as ProviderConfig from "./provider-config.ts";
export * as ProviderRegistry from "./provider-registry.ts";
