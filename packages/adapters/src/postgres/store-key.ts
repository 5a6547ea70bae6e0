/**
 * The key that seals the PostgreSQL store's secrets: 32 random bytes, given as 64 hex digits or as base64 in
 * BATON_STORE_KEY, or in a file named by BATON_STORE_KEY_FILE (the same text; a trailing newline is ignored; the file
 * must not be readable by others). Every sealed record carries the id of the key that sealed it (`k` + 12 hex digits
 * of a SHA-256 of the key under a fixed label — it tells keys apart without revealing anything of them), so a wrong
 * key is named in the error and a future key rotation can tell old records from new ones.
 *
 * Sealing is AES-256-GCM with a random 96-bit nonce per record and additional authenticated data naming what the
 * record is (e.g. the account and generation of a secret): a record moved to another row, or a generation's record
 * replayed as another's, does not open. Node's `crypto` does the cryptography (OpenSSL); nothing here is hand-made
 * beyond the framing `nonce ‖ ciphertext ‖ tag`.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { closeSync, constants, fstatSync, openSync, readFileSync, writeSync } from "node:fs";
import { InvalidInput } from "@baton/core";

export interface StoreKey {
  /** `k` + 12 hex digits: names the key, reveals nothing of it. */
  readonly id: string;
  /** The 32 key bytes. Never logged, never in a message. */
  readonly bytes: Buffer;
}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

const keyId = (bytes: Buffer): string =>
  `k${createHash("sha256").update("baton store key id\0").update(bytes).digest("hex").slice(0, 12)}`;

const invalid = (message: string) => new InvalidInput({ reason: "config", message });

/** The key in `text` (64 hex digits, or base64 of 32 bytes); `source` names where it came from, for the error. */
export const parseStoreKey = (text: string, source: string): StoreKey | InvalidInput => {
  const trimmed = text.trim();
  let bytes: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) bytes = Buffer.from(trimmed, "hex");
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) bytes = Buffer.from(trimmed, "base64");
  if (bytes?.length !== KEY_BYTES) {
    return invalid(
      `${source} is not a store key: expected 32 bytes as 64 hex digits or base64 (\`baton store init --generate-key FILE\` makes one)`,
    );
  }
  return { id: keyId(bytes), bytes };
};

/** A new random key. */
export const generateStoreKey = (): StoreKey => {
  const bytes = randomBytes(KEY_BYTES);
  return { id: keyId(bytes), bytes };
};

/**
 * Writes `key` (hex, one line) to a NEW file at `path`, mode 0600, refusing to overwrite anything there or to follow
 * a symbolic link; fsynced before it returns.
 */
export const writeKeyFile = (path: string, key: StoreKey): void => {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, `${key.bytes.toString("hex")}\n`);
  } finally {
    closeSync(fd);
  }
};

/** The key of BATON_STORE_KEY or BATON_STORE_KEY_FILE; `undefined` when neither is set. */
export const keyFromEnvironment = (env: NodeJS.ProcessEnv): StoreKey | InvalidInput | undefined => {
  const inline = env.BATON_STORE_KEY;
  const file = env.BATON_STORE_KEY_FILE;
  if (inline !== undefined && inline !== "" && file !== undefined && file !== "") {
    return invalid("both BATON_STORE_KEY and BATON_STORE_KEY_FILE are set; set one");
  }
  if (inline !== undefined && inline !== "") return parseStoreKey(inline, "BATON_STORE_KEY");
  if (file === undefined || file === "") return undefined;
  let text: string;
  try {
    const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const stats = fstatSync(fd);
      if (!stats.isFile()) return invalid(`BATON_STORE_KEY_FILE ${file} is not a regular file`);
      if ((stats.mode & 0o077) !== 0) {
        return invalid(
          `BATON_STORE_KEY_FILE ${file} has mode ${(stats.mode & 0o777).toString(8)}; others could read the key: chmod 600 it`,
        );
      }
      text = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : "error";
    return invalid(`BATON_STORE_KEY_FILE ${file} cannot be read (${code})`);
  }
  return parseStoreKey(text, `BATON_STORE_KEY_FILE ${file}`);
};

/** `nonce ‖ ciphertext ‖ tag` of `plaintext` under `key`, bound to `aad`. */
export const seal = (key: StoreKey, aad: string, plaintext: Buffer): Buffer => {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key.bytes, nonce);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
};

/** The plaintext of `sealed`, or `undefined` when it does not open with `key` and `aad` (wrong key, or tampered). */
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
