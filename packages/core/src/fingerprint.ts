/**
 * Token fingerprints: the first 8 hex digits of the SHA-256 of a secret. Events, logs, status output and replay carry
 * fingerprints so two generations can be told apart without ever writing a token (I8). SHA-256 comes from
 * `@noble/hashes` (audited, synchronous, no platform imports) because the core must stay free of `node:` modules and
 * Web Crypto's digest is asynchronous.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";

/** `fingerprint("secret")` → 8 lowercase hex digits. */
export const fingerprint = (secret: string): string => bytesToHex(sha256(utf8ToBytes(secret))).slice(0, 8);
