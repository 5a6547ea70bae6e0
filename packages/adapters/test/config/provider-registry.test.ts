/**
 * Tests of the provider registry (`<home>/config.json`): registration with real discovery against the local
 * authorization server, the ProviderDirectory layer, defaults, file modes, and malformed files (clear error naming
 * the file and the field, never a secret, nothing overwritten).
 */
import { chmod, lstat, mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ProviderDirectory } from "@baton/core";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { Effect, Layer } from "effect";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ProviderRegistry } from "../../src/config/index.ts";
import type { Discover, RegistryStore } from "../../src/config/provider-registry.ts";
import { discover } from "../../src/oauth/discovery.ts";
import { failureOf as failureOfEffect, run as runEffect, tempHome } from "../oauth/helpers.ts";

let server: AuthorizationServer;
let home: string;
/** Runs `effect` on the file registry of this test's home. */
const run = <A, E>(effect: Effect.Effect<A, E, RegistryStore>) =>
  runEffect(Effect.provide(effect, ProviderRegistry.fileLayer(home)));
const failureOf = <A, E>(effect: Effect.Effect<A, E, RegistryStore>) =>
  failureOfEffect(Effect.provide(effect, ProviderRegistry.fileLayer(home)));
let cleanup: () => Promise<void>;

beforeAll(async () => {
  server = await startAuthorizationServer();
});
afterAll(async () => {
  await server.stop();
});
beforeEach(async () => {
  ({ home, cleanup } = await tempHome());
});
afterEach(async () => {
  await cleanup();
});

const SECRET = "s3cr3t-client-secret-value-that-must-not-leak";
const noDiscovery: Discover = () => Effect.die("discovery must not run");

const addDevserver = (name = "local") =>
  ProviderRegistry.addProvider(
    { name, issuer: server.issuer, clientId: server.clientId, scope: server.scopes, graceWindowSeconds: 5 },
    (issuer) => discover(issuer),
  );

const writeConfig = async (text: string) => {
  await mkdir(home, { recursive: true, mode: 0o700 });
  await writeFile(join(home, "config.json"), text, { mode: 0o600 });
};

describe("provider add", () => {
  it("provider add - should discover the issuer and store its metadata for the ProviderDirectory", async () => {
    const stored = await run(addDevserver());
    expect(stored.issuer).toBe(server.issuer);
    expect(stored.metadata?.token_endpoint).toBe(`${server.issuer}/token`);
    expect(stored.metadata?.device_authorization_endpoint).toBe(`${server.issuer}/device/auth`);
    expect(stored.metadata?.authorization_response_iss_parameter_supported).toBe(true);

    const profile = await run(
      Effect.provide(
        ProviderDirectory.use((directory) => directory.get("local")),
        Layer.provide(ProviderRegistry.layer, ProviderRegistry.fileLayer(home)),
      ),
    );
    expect(profile).toEqual({
      name: "local",
      issuer: server.issuer,
      clientId: server.clientId,
      scope: server.scopes,
      graceWindowSeconds: 5,
      deviceOnly: false,
      introspection: true,
      rotation: "grace",
      revokesAccessTokenOnRefresh: false,
    });
  });

  it("provider add - should write config.json 0600 in a 0700 home, readable without network", async () => {
    await run(addDevserver());
    expect((await lstat(home)).mode & 0o777).toBe(0o700);
    expect((await lstat(join(home, "config.json"))).mode & 0o777).toBe(0o600);
    const [provider] = await run(ProviderRegistry.listProviders());
    expect(provider?.metadata?.token_endpoint).toBe(`${server.issuer}/token`);
    const text = await readFile(join(home, "config.json"), "utf8");
    expect(JSON.parse(text)).toMatchObject({ version: 1, providers: { local: { clientId: server.clientId } } });
  });

  it("provider add - should refuse a name that is already registered", async () => {
    await run(addDevserver());
    const error = await failureOf(addDevserver());
    expect(error).toMatchObject({ _tag: "InvalidInput", reason: "argument" });
    expect(error.message).toContain("already exists");
  });

  it("provider add - should refuse an insecure issuer before any discovery", async () => {
    const error = await failureOf(
      ProviderRegistry.addProvider({ name: "x", issuer: "http://example.com", clientId: "c" }, noDiscovery),
    );
    expect(error).toMatchObject({ _tag: "InvalidInput", reason: "argument" });
    expect(error.message).toContain("https");
  });
});

describe("provider directory", () => {
  it("ProviderDirectory.get - should fail with NotFound for an unknown provider", async () => {
    const error = await failureOf(
      Effect.provide(
        ProviderDirectory.use((directory) => directory.get("nope")),
        Layer.provide(ProviderRegistry.layer, ProviderRegistry.fileLayer(home)),
      ),
    );
    expect(error).toMatchObject({ _tag: "NotFound", what: "provider", name: "nope" });
  });

  it("ProviderDirectory.get - should see a provider added after the layer was built", async () => {
    const program = Effect.gen(function* () {
      const directory = yield* ProviderDirectory;
      const before = yield* Effect.result(directory.get("local"));
      yield* addDevserver();
      const after = yield* directory.get("local");
      return { before: before._tag, after: after.issuer };
    });
    const outcome = await run(
      Effect.provide(program, Layer.provide(ProviderRegistry.layer, ProviderRegistry.fileLayer(home))),
    );
    expect(outcome).toEqual({ before: "Failure", after: server.issuer });
  });
});

describe("registry edits", () => {
  it("removeProvider - should remove the provider and its default, and NotFound when absent", async () => {
    await run(addDevserver());
    await run(ProviderRegistry.setDefaultAccount("local", "work"));
    expect(await run(ProviderRegistry.defaultAccount("local"))).toBe("work");
    await run(ProviderRegistry.removeProvider("local"));
    expect(await run(ProviderRegistry.listProviders())).toEqual([]);
    const config = await run(ProviderRegistry.loadConfig());
    expect(config.defaults).toEqual({});
    expect(await failureOf(ProviderRegistry.removeProvider("local"))).toMatchObject({ _tag: "NotFound" });
  });

  it("setDefaultAccount - should refuse an unknown provider and an invalid account name", async () => {
    expect(await failureOf(ProviderRegistry.setDefaultAccount("ghost", "a"))).toMatchObject({ _tag: "NotFound" });
    await run(addDevserver());
    expect(await failureOf(ProviderRegistry.setDefaultAccount("local", "a b"))).toMatchObject({
      _tag: "InvalidInput",
    });
    expect(await run(ProviderRegistry.defaultAccount("local"))).toBeUndefined();
  });
});

describe("malformed config files", () => {
  const cases: ReadonlyArray<readonly [string, string, string]> = [
    ["not JSON", `{"version": 1, "providers": {"github": {"clientSecret": "${SECRET}"`, "not valid JSON"],
    ["an empty file", "", "not valid JSON"],
    [
      "a wrong type",
      JSON.stringify({ version: 1, providers: { github: { issuer: 42, clientId: "c", clientSecret: SECRET } } }),
      "providers.github.issuer: expected string",
    ],
    [
      "a non-URL issuer",
      JSON.stringify({
        version: 1,
        providers: { github: { issuer: "not a url", clientId: "c", clientSecret: SECRET } },
      }),
      "providers.github.issuer: expected a URL",
    ],
    [
      "a secret of the wrong type",
      JSON.stringify({
        version: 1,
        providers: { github: { issuer: "https://x", clientId: "c", clientSecret: 12345 } },
      }),
      "providers.github.clientSecret: expected string",
    ],
    ["an unknown version", JSON.stringify({ version: 2, providers: {} }), "version: unsupported version 2"],
    ["a missing version", JSON.stringify({ providers: {} }), "version: is required"],
    [
      "a misspelt field",
      JSON.stringify({ version: 1, providers: { github: { issuer: "https://x", clientID: "c" } } }),
      "providers.github.clientID: unknown field",
    ],
  ];

  for (const [what, text, expected] of cases) {
    it(`loadConfig - should reject ${what} naming the file and the field, and leave it untouched`, async () => {
      await writeConfig(text);
      const path = join(home, "config.json");
      const error = await failureOf(ProviderRegistry.loadConfig());
      expect(error).toMatchObject({ _tag: "InvalidInput", reason: "config" });
      expect(error.message).toContain(`${path}: `);
      expect(error.message).toContain(expected);
      expect(error.message).not.toContain(SECRET);
      expect(error.message).not.toContain("12345");

      const edit = await failureOf(
        ProviderRegistry.addProvider({ name: "other", issuer: server.issuer, clientId: "c" }, noDiscovery),
      );
      expect(edit).toMatchObject({ _tag: "InvalidInput", reason: "config" });
      expect(await failureOf(ProviderRegistry.setDefaultAccount("github", "a"))).toMatchObject({
        _tag: "InvalidInput",
      });
      expect(await readFile(path, "utf8")).toBe(text);
      const layerError = await failureOf(
        Effect.provide(
          ProviderDirectory.use((d) => d.get("github")),
          Layer.provide(ProviderRegistry.layer, ProviderRegistry.fileLayer(home)),
        ),
      );
      expect(layerError).toMatchObject({ _tag: "InvalidInput", reason: "config" });
    });
  }

  it("loadConfig - should refuse a symlink at config.json without following it", async () => {
    await writeConfig(JSON.stringify({ version: 1 }));
    const target = join(home, "elsewhere.json");
    await writeFile(target, JSON.stringify({ version: 1, providers: {} }));
    await rm(join(home, "config.json"));
    await symlink(target, join(home, "config.json"));
    const error = await failureOf(ProviderRegistry.loadConfig());
    expect(error).toMatchObject({ _tag: "InvalidInput", reason: "config" });
    expect(error.message).toContain("symbolic link");
  });

  it("loadConfig - should repair loose permissions and still read the file", async () => {
    await writeConfig(JSON.stringify({ version: 1, providers: {} }));
    await chmod(join(home, "config.json"), 0o644);
    expect(await run(ProviderRegistry.listProviders())).toEqual([]);
    expect((await lstat(join(home, "config.json"))).mode & 0o777).toBe(0o600);
  });
});
