/**
 * The file secret store against real temporary directories: round trip, compare-and-set, quarantine of corrupt or
 * wrong-schema records (bytes kept, no secrets in messages), modes under umask 000, symlink refusal, permission repair
 * and a disk-full fault before the rename.
 */
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { SecretStore } from "@baton/core";
import { Effect, Layer } from "effect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { layerFileStores } from "../../src/file/index.ts";
import * as FileSecretStore from "../../src/file/secret-store.ts";
import { account, credentials, makeHome, runWith } from "./helpers.ts";

let home: string;
let cleanup: () => void;
beforeEach(() => {
  ({ home, cleanup } = makeHome());
});
afterEach(() => cleanup());

const accountDir = () => join(home, "accounts", "github", "work");
const secretFile = () => join(accountDir(), "secret.json");
const mode = (path: string) => lstatSync(path).mode & 0o777;
const flipFailure = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.flip(effect);

describe("file secret store", () => {
  it("read - should return undefined when nothing is stored", async () => {
    expect(
      await runWith(
        home,
        SecretStore.use((s) => s.read(account)),
      ),
    ).toBeUndefined();
  });

  it("write - should round-trip credentials in a 0600 file inside 0700 directories", async () => {
    const stored = await runWith(
      home,
      SecretStore.use((s) => Effect.andThen(s.write(account, credentials(1), 0), s.read(account))),
    );
    expect(stored).toEqual(credentials(1));
    expect(mode(secretFile())).toBe(0o600);
    for (const dir of [join(home, "accounts"), join(home, "accounts", "github"), accountDir()])
      expect(mode(dir)).toBe(0o700);
    expect(
      await runWith(
        home,
        SecretStore.use((s) => Effect.succeed(s.kind)),
      ),
    ).toBe("file");
  });

  it("write - should fail with GenerationConflict when another generation is stored", async () => {
    const conflict = await runWith(
      home,
      SecretStore.use((s) =>
        Effect.andThen(s.write(account, credentials(1), 0), flipFailure(s.write(account, credentials(2), 0))),
      ),
    );
    expect(conflict).toMatchObject({ _tag: "GenerationConflict", account: "github:work", expected: 0, found: 1 });
  });

  it("write - should never overwrite a newer generation", async () => {
    const result = await runWith(
      home,
      SecretStore.use((s) =>
        Effect.gen(function* () {
          yield* s.write(account, credentials(1), 0);
          yield* s.write(account, credentials(2), 1);
          yield* s.write(account, credentials(3), 2);
          const stale = yield* Effect.flip(s.write(account, credentials(3), 2));
          const older = yield* Effect.flip(s.write(account, credentials(2), 3));
          return { stale, older, stored: yield* s.read(account) };
        }),
      ),
    );
    expect(result.stale).toMatchObject({ _tag: "GenerationConflict", expected: 2, found: 3 });
    expect(result.older).toMatchObject({ _tag: "GenerationConflict", expected: 3, found: 3 });
    expect(result.stored?.generation).toBe(3);
  });

  it("write - should let exactly one of many concurrent writers of the same generation win", async () => {
    const outcomes = await runWith(
      home,
      SecretStore.use((s) =>
        Effect.andThen(
          s.write(account, credentials(1), 0),
          Effect.all(
            Array.from({ length: 12 }, (_, i) =>
              Effect.result(s.write(account, credentials(2, { accessToken: `winner-${i}` }), 1)),
            ),
            { concurrency: "unbounded" },
          ),
        ),
      ),
    );
    expect(outcomes.filter((o) => o._tag === "Success")).toHaveLength(1);
  });

  it("read - should quarantine a file that is not JSON, keeping its bytes and naming the file", async () => {
    mkdirSync(accountDir(), { recursive: true, mode: 0o700 });
    const garbage = '{"accessToken": "half-written-secret-value';
    writeFileSync(secretFile(), garbage, { mode: 0o600 });
    const failure = await runWith(home, Effect.flip(SecretStore.use((s) => s.read(account))));
    expect(failure).toMatchObject({ _tag: "StoreFailure", reason: "corrupt" });
    expect(failure.message).toContain(secretFile());
    expect(failure.message).toContain("not valid JSON");
    expect(failure.message).toContain(join(home, "quarantine"));
    expect(failure.message).not.toContain("half-written-secret-value");
    const [moved, ...others] = readdirSync(join(home, "quarantine"));
    expect(others).toHaveLength(0);
    expect(readFileSync(join(home, "quarantine", moved!), "utf8")).toBe(garbage);
    expect(() => lstatSync(secretFile())).toThrow();
    // After the quarantine the account reads as empty, and a login may store generation 1 again.
    expect(
      await runWith(
        home,
        SecretStore.use((s) => s.read(account)),
      ),
    ).toBeUndefined();
  });

  it("read - should quarantine a record that fails the schema without quoting it", async () => {
    mkdirSync(accountDir(), { recursive: true, mode: 0o700 });
    const wrong = JSON.stringify({ ...credentials(4), version: 2 });
    writeFileSync(secretFile(), wrong, { mode: 0o600 });
    const failure = await runWith(home, Effect.flip(SecretStore.use((s) => s.write(account, credentials(5), 4))));
    expect(failure).toMatchObject({ _tag: "StoreFailure", reason: "corrupt" });
    expect(failure.message).toContain("does not match the credentials schema");
    expect(failure.message).not.toContain("secret-4");
    const [moved] = readdirSync(join(home, "quarantine"));
    expect(readFileSync(join(home, "quarantine", moved!), "utf8")).toBe(wrong);
  });

  it("write - should create 0600 files and 0700 directories under umask 000", async () => {
    const previous = process.umask(0);
    try {
      const nested = join(home, "fresh-home");
      await runWith(
        nested,
        SecretStore.use((s) => s.write(account, credentials(1), 0)),
      );
      expect(mode(nested)).toBe(0o700);
      expect(mode(join(nested, "accounts", "github", "work"))).toBe(0o700);
      expect(mode(join(nested, "accounts", "github", "work", "secret.json"))).toBe(0o600);
    } finally {
      process.umask(previous);
    }
  });

  it("read - should refuse a symlink planted at secret.json and leave its target untouched", async () => {
    mkdirSync(accountDir(), { recursive: true, mode: 0o700 });
    const target = join(home, "elsewhere.json");
    writeFileSync(target, JSON.stringify(credentials(7)), { mode: 0o644 });
    symlinkSync(target, secretFile());
    const readFailure = await runWith(home, Effect.flip(SecretStore.use((s) => s.read(account))));
    const writeFailure = await runWith(home, Effect.flip(SecretStore.use((s) => s.write(account, credentials(8), 7))));
    for (const failure of [readFailure, writeFailure]) {
      expect(failure).toMatchObject({ _tag: "StoreFailure", reason: "permission" });
      expect(failure.message).toContain("symbolic link");
    }
    expect(readFileSync(target, "utf8")).toBe(JSON.stringify(credentials(7)));
    expect(mode(target)).toBe(0o644);
    expect(lstatSync(secretFile()).isSymbolicLink()).toBe(true);
  });

  it("write - should refuse a symlinked account directory and leave its target untouched", async () => {
    mkdirSync(join(home, "accounts", "github"), { recursive: true, mode: 0o700 });
    const target = join(home, "decoy");
    mkdirSync(target, { mode: 0o755 });
    symlinkSync(target, accountDir());
    const failure = await runWith(home, Effect.flip(SecretStore.use((s) => s.write(account, credentials(1), 0))));
    expect(failure).toMatchObject({ _tag: "StoreFailure", reason: "permission" });
    expect(failure.message).toContain(accountDir());
    expect(readdirSync(target)).toEqual([]);
    expect(mode(target)).toBe(0o755);
  });

  it("read - should repair loose permissions with a warning", async () => {
    await runWith(
      home,
      SecretStore.use((s) => s.write(account, credentials(1), 0)),
    );
    chmodSync(secretFile(), 0o644);
    chmodSync(accountDir(), 0o755);
    const logs: Array<string> = [];
    expect(
      (
        await runWith(
          home,
          SecretStore.use((s) => s.read(account)),
          logs,
        )
      )?.generation,
    ).toBe(1);
    expect(mode(secretFile())).toBe(0o600);
    expect(mode(accountDir())).toBe(0o700);
    expect(logs.some((l) => l.includes(secretFile()) && l.includes("loose permissions"))).toBe(true);
    expect(logs.some((l) => l.includes(accountDir()) && l.includes("loose permissions"))).toBe(true);
  });

  it("write - should keep the old record when the disk fills up before the rename", async () => {
    const enospc = () => {
      throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    };
    const faulty = Layer.merge(
      layerFileStores({ home }),
      FileSecretStore.layer({ home, faults: { beforeRename: enospc } }),
    );
    await runWith(
      home,
      SecretStore.use((s) => s.write(account, credentials(1), 0)),
    );
    const failure = await runWith(
      home,
      Effect.flip(SecretStore.use((s) => s.write(account, credentials(2), 1))),
      [],
      faulty,
    );
    expect(failure).toMatchObject({ _tag: "StoreFailure", reason: "no-space" });
    expect(failure.message).toContain(secretFile());
    expect(
      (
        await runWith(
          home,
          SecretStore.use((s) => s.read(account)),
        )
      )?.generation,
    ).toBe(1);
    expect(readdirSync(accountDir())).toEqual(["secret.json"]);
  });

  it("remove - should remove only the record, and list should name the accounts with one", async () => {
    const other = { provider: "gitlab", account: "home" };
    const listed = await runWith(
      home,
      SecretStore.use((s) =>
        Effect.gen(function* () {
          yield* s.write(account, credentials(1), 0);
          yield* s.write(other, credentials(1, { account: "gitlab:home" }), 0);
          const before = yield* s.list();
          yield* s.remove(other);
          yield* s.remove(other);
          return { before, after: yield* s.list() };
        }),
      ),
    );
    expect(listed.before).toEqual([account, other]);
    expect(listed.after).toEqual([account]);
    expect(statSync(join(home, "accounts", "gitlab", "home")).isDirectory()).toBe(true);
  });

  it("write - should refuse an account name that could escape BATON_HOME", async () => {
    const failure = await runWith(
      home,
      Effect.flip(SecretStore.use((s) => s.write({ provider: "..", account: "x" }, credentials(1), 0))),
    );
    expect(failure).toMatchObject({ _tag: "StoreFailure", reason: "permission" });
  });
});
