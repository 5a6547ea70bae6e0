/**
 * The provider registry (`<BATON_HOME>/config.json`): its schema and decoder (`ProviderConfig`), the registry
 * operations plus the core `ProviderDirectory` layer (`ProviderRegistry`), provider presets and the `provider add`
 * input built from flags (`ProviderPresets`, `ProviderSpec`), the host → account map of the credential helpers
 * (`CredentialHosts`), and the lock serializing registry changes across processes (`ConfigLock`).
 */
export * as ConfigLock from "./config-lock.ts";
export * as CredentialHosts from "./credential-hosts.ts";
export * as ProviderConfig from "./provider-config.ts";
export * as ProviderPresets from "./provider-presets.ts";
export * as ProviderRegistry from "./provider-registry.ts";
export * as ProviderSpec from "./provider-spec.ts";
