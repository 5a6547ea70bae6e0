/**
 * The keychain secret store against a real keychain (the Secret Service on Linux): one stable item per account,
 * corrupt items reported and left in place, the probe; and, with no keychain needed, a probe in a child process whose
 * session bus is missing or never answers, which must fail with a clear "unavailable" error within its timeout.
 * Real-keychain tests skip (or fail, with BATON_REQUIRE_KEYCHAIN=1) as helpers.ts explains.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AccountRef, SecretStore, type SecretStoreShape } from "@baton/core";
import { findCredentialsAsync } from "@napi-rs/keyring";
import { Effect } from "effect";
import { afterEach, describe, expect, it, type TestContext } from "vitest";
import { layer, probe } from "../../src/keychain/secret-store.ts";
import { randomCredentials } from "../contract/secret-store-contract.ts";
import { deleteService, entry, gateFor, keychainProblem, probeInChild, uniqueService } from "./helpers.ts";

const problem = await keychainProblem();
const { skipReason, failReason } = gateFor(problem);
const demo: AccountRef = { provider: "demo", account: "x" };
const hasSecretTool = (() => {
  try {
    execFileSync("secret-tool", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

let services: Array<string> = [];
afterEach(async () => {
  const used = services;
  services = [];
  if (problem === undefined) for (const service of used) await deleteService(service);
});

/** A test body against a keychain store under a fresh service; skipped without a keychain. */
const withKeychain =
  (body: (service: string, store: SecretStoreShape) => Promise<void>) =>
  async (context: TestContext): Promise<void> => {
    if (failReason !== undefined) throw new Error(failReason);
    if (skipReason !== undefined) return context.skip(skipReason);
    const service = uniqueService();
    services.push(service);
    const store = await Effect.runPromise(
      Effect.provide(SecretStore.use(Effect.succeed), layer({ service, timeoutMs: 15_000 })),
    );
    await body(service, store);
  };

describe("keychain secret store (real keychain)", () => {
  it(
    "write - should keep exactly one keychain item per account across writes",
    withKeychain(async (service, store) => {
      for (let generation = 1; generation <= 5; generation++) {
        await Effect.runPromise(store.write(demo, randomCredentials(demo, generation), generation - 1));
      }
      const items = (await findCredentialsAsync(service)).filter((c) => c.account === "demo:x");
      expect(items).toHaveLength(1);
      expect((await Effect.runPromise(store.read(demo)))?.generation).toBe(5);
      if (hasSecretTool) {
        // The Secret Service attributes are `service` and `username` (not `account`).
        const search = execFileSync("secret-tool", ["search", "--all", "service", service, "username", "demo:x"], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
        });
        expect(search.split("\n").filter((line) => line.startsWith("["))).toHaveLength(1);
        const lookup = execFileSync("secret-tool", ["lookup", "service", service, "username", "demo:x"], {
          encoding: "utf8",
        });
        expect(JSON.parse(lookup)).toMatchObject({ account: "demo:x", generation: 5 });
      }
    }),
  );

  it(
    "read - should report an item that is not JSON as corrupt and leave it in place",
    withKeychain(async (service, store) => {
      const planted = `{"accessToken":"half-${randomBytes(8).toString("hex")}`;
      await entry(service, "demo:x").setPassword(planted);
      const failure = await Effect.runPromise(Effect.flip(store.read(demo)));
      expect(failure).toMatchObject({ _tag: "StoreFailure", reason: "corrupt" });
      expect(failure.message).toContain(`service "${service}", account "demo:x"`);
      expect(failure.message).toContain("is not valid JSON");
      expect(failure.message).toContain("left in place, untouched");
      expect(failure.message).not.toContain(planted.slice(16));
      const blocked = await Effect.runPromise(Effect.flip(store.write(demo, randomCredentials(demo, 1), 0)));
      expect(blocked).toMatchObject({ _tag: "StoreFailure", reason: "corrupt" });
      expect(await entry(service, "demo:x").getPassword()).toBe(planted);
    }),
  );

  it(
    "read - should report a record that fails the schema as corrupt without quoting it",
    withKeychain(async (service, store) => {
      const record = randomCredentials(demo, 4);
      const planted = JSON.stringify({ ...record, version: 2 });
      await entry(service, "demo:x").setPassword(planted);
      const failure = await Effect.runPromise(Effect.flip(store.read(demo)));
      expect(failure).toMatchObject({ _tag: "StoreFailure", reason: "corrupt" });
      expect(failure.message).toContain("does not match the credentials schema");
      expect(failure.message).not.toContain(record.accessToken);
      expect(failure.message).not.toContain(record.refreshToken ?? "no-refresh-token");
      expect(await entry(service, "demo:x").getPassword()).toBe(planted);
    }),
  );

  it(
    "remove - should delete a corrupt item so that a new login can store generation 1",
    withKeychain(async (service, store) => {
      await entry(service, "demo:x").setPassword("not json");
      await Effect.runPromise(store.remove(demo));
      expect(await Effect.runPromise(store.read(demo))).toBeUndefined();
      await Effect.runPromise(store.write(demo, randomCredentials(demo, 1), 0));
      expect((await Effect.runPromise(store.read(demo)))?.generation).toBe(1);
    }),
  );

  it("probe - should succeed and leave no probe item behind", async (context) => {
    if (failReason !== undefined) throw new Error(failReason);
    if (skipReason !== undefined) return context.skip(skipReason);
    await Effect.runPromise(probe({ timeoutMs: 15_000 }));
    expect(await findCredentialsAsync("baton-probe")).toEqual([]);
  });
});

describe.runIf(process.platform === "linux")("keychain probe without a keychain (child processes)", () => {
  it("probe - should fail fast with a clear unavailable error when the session bus socket does not exist", async () => {
    const dir = mkdtempSync(join(tmpdir(), "baton-nobus-"));
    try {
      const outcome = await probeInChild(`unix:path=${join(dir, "missing-bus")}`, 5_000);
      expect(outcome).toMatchObject({ ok: false, reason: "unavailable" });
      expect(outcome.message).toContain("no D-Bus session bus");
      expect(outcome.message).toContain("BATON_STORAGE=file");
      expect(outcome.ms).toBeLessThan(5_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("probe - should fail with unavailable within its timeout when the session bus never answers", async () => {
    const dir = mkdtempSync(join(tmpdir(), "baton-hungbus-"));
    const sockets: Array<Socket> = [];
    const server: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(join(dir, "bus"), resolve));
    try {
      const outcome = await probeInChild(`unix:path=${join(dir, "bus")}`, 1_000);
      expect(outcome).toMatchObject({ ok: false, reason: "unavailable" });
      expect(outcome.message).toContain("did not answer within 1 s");
      expect(outcome.message).toMatch(/locked|prompt/);
      expect(outcome.ms).toBeGreaterThanOrEqual(900);
      expect(outcome.ms).toBeLessThan(3_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
