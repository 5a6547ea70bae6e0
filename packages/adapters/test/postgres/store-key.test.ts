/**
 * Tests of the store key and sealing (no database needed): the key's two spellings and its file (refused when others
 * can read it), errors that name the variable and never the key, key ids that tell keys apart, and sealed records
 * that open only with their key and in their place (account and generation bound as additional authenticated data).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidInput } from "@baton/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { open, seal, secretAad } from "../../src/postgres/sealing.ts";
import { generateStoreKey, keyFromEnvironment, parseStoreKey, writeKeyFile } from "../../src/postgres/store-key.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "baton-store-key-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("store key", () => {
  it("parseStoreKey - should read 64 hex digits and base64 of the same 32 bytes as the same key", () => {
    const bytes = randomBytes(32);
    const hex = parseStoreKey(bytes.toString("hex"), "BATON_STORE_KEY");
    const base64 = parseStoreKey(`${bytes.toString("base64")}\n`, "BATON_STORE_KEY");
    if (hex instanceof InvalidInput || base64 instanceof InvalidInput) throw new Error("a valid key was refused");
    expect(hex.id).toMatch(/^k[0-9a-f]{12}$/);
    expect(base64.id).toBe(hex.id);
    expect(generateStoreKey().id).not.toBe(hex.id);
  });

  it("parseStoreKey - should refuse anything but 32 bytes, naming the variable and not echoing the value", () => {
    for (const text of [
      "",
      "abc",
      randomBytes(31).toString("hex"),
      randomBytes(33).toString("base64"),
      "z".repeat(64),
    ]) {
      const parsed = parseStoreKey(text, "BATON_STORE_KEY");
      expect(parsed).toBeInstanceOf(InvalidInput);
      expect((parsed as InvalidInput).message).toContain("BATON_STORE_KEY is not a store key");
      if (text.length > 3) expect((parsed as InvalidInput).message).not.toContain(text);
    }
  });

  it("keyFromEnvironment - should read a 0600 key file, refuse a readable one or both variables, and give undefined without either", async () => {
    const key = generateStoreKey();
    const path = join(dir, "store.key");
    writeKeyFile(path, key);
    expect(() => writeKeyFile(path, generateStoreKey())).toThrow(/EEXIST/);
    const read = keyFromEnvironment({ BATON_STORE_KEY_FILE: path });
    expect(read).toMatchObject({ id: key.id });

    const loose = join(dir, "loose.key");
    await writeFile(loose, key.bytes.toString("hex"), { mode: 0o644 });
    const refused = keyFromEnvironment({ BATON_STORE_KEY_FILE: loose });
    expect(refused).toBeInstanceOf(InvalidInput);
    expect((refused as InvalidInput).message).toContain("has mode 644");
    expect(
      keyFromEnvironment({ BATON_STORE_KEY: key.bytes.toString("hex"), BATON_STORE_KEY_FILE: path }),
    ).toBeInstanceOf(InvalidInput);
    expect(keyFromEnvironment({ BATON_STORE_KEY_FILE: join(dir, "missing") })).toBeInstanceOf(InvalidInput);
    expect(keyFromEnvironment({})).toBeUndefined();
  });
});

describe("sealing", () => {
  it("seal and open - should round-trip only with the same key and the same additional data", () => {
    const key = generateStoreKey();
    const plain = Buffer.from('{"accessToken":"secret-value"}', "utf8");
    const sealed = seal(key, secretAad("github", "work", 7), plain);
    expect(sealed.includes(plain)).toBe(false);
    expect(open(key, secretAad("github", "work", 7), sealed)).toEqual(plain);
    // Another key, another generation, another account: nothing opens.
    expect(open(generateStoreKey(), secretAad("github", "work", 7), sealed)).toBeUndefined();
    expect(open(key, secretAad("github", "work", 6), sealed)).toBeUndefined();
    expect(open(key, secretAad("github", "home", 7), sealed)).toBeUndefined();
    // A flipped bit anywhere: nothing opens.
    const tampered = Buffer.from(sealed);
    tampered[20] = (tampered[20] ?? 0) ^ 1;
    expect(open(key, secretAad("github", "work", 7), tampered)).toBeUndefined();
    // Random nonces: the same record sealed twice differs.
    expect(seal(key, secretAad("github", "work", 7), plain).equals(sealed)).toBe(false);
  });
});
