/**
 * Permissions and links across all file stores at once: under umask 000 every directory is 0700 and every file 0600
 * (secret, log, claims, lock owner record, quarantined copies); a symlinked claims directory is refused; a FIFO planted
 * at a store path does not hang a read.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AccountLock, ClaimStore, EventStore, SecretStore } from "@baton/core";
import { Effect } from "effect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { account, credentials, makeHome, runWith } from "./helpers.ts";

let home: string;
let cleanup: () => void;
beforeEach(() => {
  ({ home, cleanup } = makeHome());
});
afterEach(() => cleanup());

/** Every path below `root` with its permission bits. */
const modes = (root: string): Array<[string, number, boolean]> =>
  readdirSync(root, { recursive: true, encoding: "utf8" }).map((name) => {
    const stats = statSync(join(root, name));
    return [name, stats.mode & 0o777, stats.isDirectory()];
  });

describe("file store permissions", () => {
  it("layerFileStores - should create only 0700 directories and 0600 files under umask 000", async () => {
    const previous = process.umask(0);
    try {
      const fresh = join(home, "home");
      await runWith(
        fresh,
        Effect.gen(function* () {
          yield* SecretStore.use((s) => s.write(account, credentials(1), 0));
          yield* EventStore.use((s) =>
            s.append(account, [{ v: 1, at: 1, host: "h", pid: 1, type: "lock.waited", waitedMs: 1 }]),
          );
          yield* ClaimStore.use((s) =>
            Effect.all([
              Effect.scoped(s.acquire(account, 1, { claimant: { host: "h", pid: 1, at: 1 }, refreshFp: undefined })),
              s.markPresenting(account, 1, 1),
              s.release(account, 1, 1, "test"),
            ]),
          );
          const lease = yield* AccountLock.use((l) => l.tryAcquire(account));
          expect(statSync(join(fresh, "accounts", "github", "work", "refresh.lock", "owner.json")).mode & 0o777).toBe(
            0o600,
          );
          expect(statSync(join(fresh, "accounts", "github", "work", "refresh.lock")).mode & 0o777).toBe(0o700);
          yield* lease!.release;
        }),
      );
      writeFileSync(join(fresh, "accounts", "github", "work", "secret.json"), "not json", { mode: 0o600 });
      await runWith(fresh, Effect.flip(SecretStore.use((s) => s.read(account))));
      const all = modes(fresh);
      expect(all.map(([name]) => name)).toEqual(
        expect.arrayContaining(["quarantine", join("accounts", "github", "work", "claims")]),
      );
      for (const [name, mode, isDir] of all) expect([name, mode]).toEqual([name, isDir ? 0o700 : 0o600]);
      expect(statSync(fresh).mode & 0o777).toBe(0o700);
    } finally {
      process.umask(previous);
    }
  });

  it("claim - should refuse a symlinked claims directory and leave its target untouched", async () => {
    const accountDir = join(home, "accounts", "github", "work");
    mkdirSync(accountDir, { recursive: true, mode: 0o700 });
    const target = join(home, "decoy");
    mkdirSync(target);
    symlinkSync(target, join(accountDir, "claims"));
    const failure = await runWith(
      home,
      Effect.flip(
        ClaimStore.use((s) =>
          Effect.scoped(s.acquire(account, 1, { claimant: { host: "h", pid: 1, at: 1 }, refreshFp: undefined })),
        ),
      ),
    );
    expect(failure).toMatchObject({ _tag: "StoreFailure", reason: "permission" });
    expect(readdirSync(target)).toEqual([]);
  });

  it("read - should not hang on a FIFO planted at secret.json", async () => {
    const accountDir = join(home, "accounts", "github", "work");
    mkdirSync(accountDir, { recursive: true, mode: 0o700 });
    execFileSync("mkfifo", ["-m", "600", join(accountDir, "secret.json")]);
    const failure = await runWith(home, Effect.flip(SecretStore.use((s) => s.read(account))));
    expect(failure).toMatchObject({ _tag: "StoreFailure", reason: "io" });
    expect(failure.message).toContain("not a regular file");
  });
});
