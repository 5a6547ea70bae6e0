/**
 * The keychain secret store's own logic over fake backends, so it runs on every machine: the SecretStore contract over
 * an in-memory keychain, timeouts of silent keychain calls, the classification of keychain errors into advice, list
 * filtering, the probe's checks, and the D-Bus address parsing of the session-bus check.
 */
import { randomBytes } from "node:crypto";
import { type AccountRef, SecretStore } from "@baton/core";
import { Effect, Layer } from "effect";
import { describe, expect, it } from "vitest";
import { classify, type KeyringBackend } from "../../src/keychain/native.ts";
import { makeWith, probe } from "../../src/keychain/secret-store.ts";
import { socketOf } from "../../src/keychain/session-bus.ts";
import { randomCredentials, secretStoreContract } from "../contract/secret-store-contract.ts";

/** An in-memory keychain that answers asynchronously, like the real one. */
const memoryBackend = (items = new Map<string, string>()): KeyringBackend => ({
  get: async (key) => items.get(key) ?? null,
  set: async (key, value) => {
    await new Promise((resolve) => setImmediate(resolve));
    items.set(key, value);
  },
  delete: async (key) => items.delete(key),
  keys: async () => [...items.keys()],
});

/** A keychain that never answers (a locked keychain waiting on a prompt nobody sees). */
const silentBackend: KeyringBackend = {
  get: () => new Promise(() => {}),
  set: () => new Promise(() => {}),
  delete: () => new Promise(() => {}),
  keys: () => new Promise(() => {}),
};

const demo: AccountRef = { provider: "demo", account: "x" };

secretStoreContract("keychain secret store over an in-memory keychain", async () => ({
  layer: Layer.succeed(SecretStore, SecretStore.of(makeWith(memoryBackend()))),
  cleanup: async () => {},
}));

describe("keychain secret store (fake keychains)", () => {
  it("read - should fail with unavailable when the keychain does not answer within the timeout", async () => {
    const store = makeWith(silentBackend, { timeoutMs: 150 });
    const started = performance.now();
    const failure = await Effect.runPromise(Effect.flip(store.read(demo)));
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(failure).toMatchObject({ _tag: "StoreFailure", reason: "unavailable" });
    expect(failure.message).toContain('the keychain item (service "baton", account "demo:x")');
    expect(failure.message).toContain("did not answer within 0.15 s");
    expect(failure.message).toMatch(/locked/);
  });

  it("write - should time out instead of hanging when the keychain stops answering mid-write", async () => {
    const items = new Map<string, string>();
    const backend: KeyringBackend = { ...memoryBackend(items), set: () => new Promise(() => {}) };
    const store = makeWith(backend, { timeoutMs: 100 });
    await Effect.runPromise(Effect.flip(store.write(demo, randomCredentials(demo, 1), 0))).then((failure) =>
      expect(failure).toMatchObject({ _tag: "StoreFailure", reason: "unavailable" }),
    );
    // The per-account mutex was released: the next call runs (and times out again) rather than queueing forever.
    expect(await Effect.runPromise(Effect.flip(store.write(demo, randomCredentials(demo, 1), 0)))).toMatchObject({
      reason: "unavailable",
    });
  });

  it("write - should report keychain errors classified, without the record in the message", async () => {
    const record = randomCredentials(demo, 1);
    const backend: KeyringBackend = {
      ...memoryBackend(),
      set: async () => {
        throw new Error("Couldn't access platform storage: Secret Service: unlock prompt was dismissed");
      },
    };
    const failure = await Effect.runPromise(Effect.flip(makeWith(backend).write(demo, record, 0)));
    expect(failure).toMatchObject({ _tag: "StoreFailure", reason: "unavailable" });
    expect(failure.message).toContain("locked");
    expect(failure.message).not.toContain(record.accessToken);
  });

  it("list - should name only items that are account references, sorted", async () => {
    const items = new Map([
      ["zeta:b", "{}"],
      ["alpha:a", "{}"],
      ["__index__", "{}"],
      ["no-colon", "{}"],
      ["a:b:c", "{}"],
    ]);
    const listed = await Effect.runPromise(makeWith(memoryBackend(items)).list());
    expect(listed).toEqual([
      { provider: "alpha", account: "a" },
      { provider: "zeta", account: "b" },
    ]);
  });

  it("probe - should delete its item and fail when the keychain returns something else", async () => {
    const items = new Map<string, string>();
    const lying: KeyringBackend = { ...memoryBackend(items), get: async () => randomBytes(4).toString("hex") };
    const failure = await Effect.runPromise(Effect.flip(probe({ backend: lying })));
    expect(failure).toMatchObject({ _tag: "StoreFailure", reason: "unavailable" });
    expect(failure.message).toContain("read back a different value");
    expect(items.size).toBe(0);
    await Effect.runPromise(probe({ backend: memoryBackend(items) }));
    expect(items.size).toBe(0);
  });

  it("probe - should fail within its timeout on a silent keychain", async () => {
    const started = performance.now();
    const failure = await Effect.runPromise(Effect.flip(probe({ backend: silentBackend, timeoutMs: 100 })));
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(failure.message).toContain("the keychain is unavailable");
  });
});

describe("keychain error classification", () => {
  const cases: ReadonlyArray<readonly [string, string, RegExp]> = [
    ["Platform failure: DBus error: Using X11 for dbus-daemon autolaunch was disabled", "unavailable", /no D-Bus/],
    ["zbus error: Failed to connect to address `unix:path=/x`: No such file", "unavailable", /no D-Bus/],
    [
      "org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.secrets was not provided",
      "unavailable",
      /no Secret Service on the session bus/,
    ],
    ["Couldn't access platform storage: Secret Service: unlock prompt was dismissed", "unavailable", /locked/],
    [
      "zbus error: org.freedesktop.Secret.Error.IsLocked: Cannot get secret of a locked object",
      "unavailable",
      /locked/,
    ],
    ["Couldn't access platform storage: Secret Service: no result found", "unavailable", /no default keyring/],
    ["Entry is matched by 2 credentials: ambiguous", "corrupt", /duplicates/],
    ["something unexpected", "io", /something unexpected/],
  ];
  for (const [text, reason, advice] of cases) {
    it(`classify - should map "${text.slice(0, 40)}..." to ${reason}`, () => {
      const problem = classify(new Error(text));
      expect(problem.reason).toBe(reason);
      expect(problem.message).toMatch(advice);
      if (reason === "unavailable") expect(problem.message).toMatch(/BATON_STORAGE=file/);
    });
  }
});

describe("session bus address", () => {
  it("socketOf - should find unix paths and abstract sockets and skip other transports", () => {
    expect(socketOf("unix:path=/run/user/1000/bus")).toBe("/run/user/1000/bus");
    expect(socketOf("unix:abstract=/tmp/dbus-X,guid=abc")).toBe("\0/tmp/dbus-X");
    expect(socketOf("tcp:host=localhost,port=1;unix:path=/a%20b")).toBe("/a b");
    expect(socketOf("launchd:env=DBUS_LAUNCHD_SESSION_BUS_SOCKET")).toBeUndefined();
  });
});
