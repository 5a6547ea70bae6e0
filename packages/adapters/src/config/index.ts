/**
 * The provider registry (`<BATON_HOME>/config.json`): its schema and decoder (`ProviderConfig`), the registry
 * operations plus the core `ProviderDirectory` layer (`ProviderRegistry`), provider presets and the `provider add`
 * input built from flags (`ProviderPresets`, `ProviderSpec`), and the host → account map of the credential helpers
 * (`CredentialHosts`).
 */
export * as CredentialHosts from "./credential-hosts.ts";
export * as ProviderConfig from "./provider-config.ts";
export * as ProviderPresets from "./provider-presets.ts";
export * as ProviderRegistry from "./provider-registry.ts";
export * as ProviderSpec from "./provider-spec.ts";
