/**
 * The store key and sealing, loading nothing but Node — so that the `baton token` fast path (fast-token.ts) can open
 * a secret without loading Effect. The key is 32 random bytes, written as 64 hex digits or base64; its id is `k` +
 * 12 hex digits of a SHA-256 of the key under a fixed label — it tells keys apart without revealing anything of them.
 *
 * Sealing is AES-256-GCM with a random 96-bit nonce per record and additional authenticated data naming what the
 * record is (the account and generation of a secret, the registry): a record moved to another row, or a generation's
 * record replayed as another's, does not open. Node's `crypto` (OpenSSL) does the cryptography; nothing here is
 * hand-made beyond the framing `nonce ‖ ciphertext ‖ tag`.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";

export interface StoreKey {
  /** `k` + 12 hex digits: names the key, reveals nothing of it. */
  readonly id: string;
  /** The 32 key bytes. Never logged, never in a message. */
  readonly bytes: Buffer;
}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;

export const keyOf = (bytes: Buffer): StoreKey => ({
  id: `k${createHash("sha256").update("baton store key id\0").update(bytes).digest("hex").slice(0, 12)}`,
  bytes,
});

/** The key written in `text` (64 hex digits, or base64 of 32 bytes; surrounding white space ignored). */
export const keyFromText = (text: string): StoreKey | undefined => {
  const trimmed = text.trim();
  let bytes: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) bytes = Buffer.from(trimmed, "hex");
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) bytes = Buffer.from(trimmed, "base64");
  return bytes?.length === KEY_BYTES ? keyOf(bytes) : undefined;
};

/**
 * The text of a key file: opened without following a link, a regular file not readable by others; otherwise what is
 * wrong with it.
 */
export const readKeyFile = (path: string): { readonly text: string } | { readonly problem: string } => {
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const stats = fstatSync(fd);
      if (!stats.isFile()) return { problem: "is not a regular file" };
      if ((stats.mode & 0o077) !== 0) {
        return { problem: `has mode ${(stats.mode & 0o777).toString(8)}; others could read the key: chmod 600 it` };
      }
      return { text: readFileSync(fd, "utf8") };
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : "error";
    return { problem: `cannot be read (${code})` };
  }
};

/** `nonce ‖ ciphertext ‖ tag` of `plaintext` under `key`, bound to `aad`. */
export const seal = (key: StoreKey, aad: string, plaintext: Buffer): Buffer => {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key.bytes, nonce);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
};

/** The plaintext of `sealed`, or `undefined` when it does not open with `key` and `aad` (wrong key, or altered). */
export const open = (key: StoreKey, aad: string, sealed: Buffer): Buffer | undefined => {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key.bytes, sealed.subarray(0, NONCE_BYTES));
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
};

/** What a sealed secret is bound to: a row moved to another account or generation does not open. */
export const secretAad = (provider: string, account: string, generation: number): string =>
  `baton:secret:v1:${provider}:${account}:${generation}`;

/** What the sealed provider registry is bound to. */
export const REGISTRY_AAD = "baton:registry:v1";
