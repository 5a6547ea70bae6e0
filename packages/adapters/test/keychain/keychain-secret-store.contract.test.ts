/**
 * The SecretStore contract against the real OS keychain (the Secret Service on Linux), each test under a unique
 * service name whose items are all deleted afterwards. Skipped with the probe's explanation when no keychain is usable;
 * failing instead when BATON_REQUIRE_KEYCHAIN=1 (see helpers.ts). CI: scripts/keyring/with-keyring.sh.
 */
import { secretStoreContract } from "../contract/secret-store-contract.ts";
import { gateFor, keychainProblem, makeKeychainStore } from "./helpers.ts";

secretStoreContract("keychain secret store", makeKeychainStore, gateFor(await keychainProblem()));
