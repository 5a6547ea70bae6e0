/**
 * The store key as a host configures it: BATON_STORE_KEY (64 hex digits or base64) or a file named by
 * BATON_STORE_KEY_FILE (the same text; a trailing newline is ignored; not readable by others), with errors that name
 * the variable; a new random key and its key file (`baton store init --generate-key FILE`, `baton store rotate-key`).
 * Every sealed record carries the id of the key that sealed it (sealing.ts), so a wrong key is named in the error and
 * a key rotation (key-rotation.ts) can tell old records from new ones.
 */

import { randomBytes } from "node:crypto";
import { closeSync, constants, openSync, writeSync } from "node:fs";
import { InvalidInput } from "@baton/core";
import { KEY_BYTES, keyFromText, keyOf, readKeyFile, type StoreKey } from "./sealing.ts";

export { open, type StoreKey, seal } from "./sealing.ts";

const invalid = (message: string) => new InvalidInput({ reason: "config", message });

/** The key in `text`; `source` names where it came from, for the error. */
export const parseStoreKey = (text: string, source: string): StoreKey | InvalidInput =>
  keyFromText(text) ??
  invalid(
    `${source} is not a store key: expected 32 bytes as 64 hex digits or base64 (\`baton store init --generate-key FILE\` makes one)`,
  );

/** The key in the file at `path` (read as BATON_STORE_KEY_FILE is); `source` names it in errors. */
export const keyFromFile = (path: string, source: string): StoreKey | InvalidInput => {
  const read = readKeyFile(path);
  if ("problem" in read) return invalid(`${source} ${path} ${read.problem}`);
  return parseStoreKey(read.text, `${source} ${path}`);
};

/** A new random key. */
export const generateStoreKey = (): StoreKey => keyOf(randomBytes(KEY_BYTES));

/**
 * Writes `key` (hex, one line) to a NEW file at `path`, mode 0600, refusing to overwrite anything there or to follow
 * a symbolic link.
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
  return keyFromFile(file, "BATON_STORE_KEY_FILE");
};
