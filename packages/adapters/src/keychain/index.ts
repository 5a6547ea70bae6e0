/**
 * The OS keychain adapter of baton: the keychain secret store (kind "keychain") over @napi-rs/keyring, with `probe`
 * to tell whether a keychain is usable before choosing it.
 */
export * as KeychainSecretStore from "./secret-store.ts";
