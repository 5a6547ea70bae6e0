/**
 * The host → account map of the credential helpers in config.json: host normalization (what git and docker send),
 * mappings kept beside the providers, an unregistered provider refused (NotFound), removal, and a malformed entry in
 * the file named by its path.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Effect } from "effect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CredentialHosts, ProviderRegistry } from "../../src/config/index.ts";
import type { RegistryStore } from "../../src/config/provider-registry.ts";
import { failureOf as failureOfEffect, run as runEffect, tempHome } from "../oauth/helpers.ts";

let home: string;
/** Runs `effect` on the file registry of this test's home. */
const run = <A, E>(effect: Effect.Effect<A, E, RegistryStore>) =>
  runEffect(Effect.provide(effect, ProviderRegistry.fileLayer(home)));
const failureOf = <A, E>(effect: Effect.Effect<A, E, RegistryStore>) =>
  failureOfEffect(Effect.provide(effect, ProviderRegistry.fileLayer(home)));
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ home, cleanup } = await tempHome());
  const discovered = () =>
    Effect.succeed({ issuer: "https://idp.example", metadata: { token_endpoint: "https://idp.example/token" } });
  await run(ProviderRegistry.addProvider({ name: "gh", issuer: "https://idp.example", clientId: "c" }, discovered));
});
afterEach(async () => {
  await cleanup();
});

describe("normalizeHost", () => {
  it("normalizeHost - should reduce docker's server URLs and git's hosts to a lower-case host[:port]", () => {
    expect(CredentialHosts.normalizeHost("https://index.docker.io/v1/")).toBe("index.docker.io");
    expect(CredentialHosts.normalizeHost("GHCR.io")).toBe("ghcr.io");
    expect(CredentialHosts.normalizeHost("registry.example:5000")).toBe("registry.example:5000");
    expect(CredentialHosts.normalizeHost("https://registry.example:443/x")).toBe("registry.example");
    for (const bad of ["", "https://user:pw@host.example", "not a host", "http://"]) {
      expect(CredentialHosts.normalizeHost(bad), bad).toBeUndefined();
    }
  });
});

describe("credential host map", () => {
  it("setCredentialHost - should keep mappings per tool beside the providers, and find them by any spelling", async () => {
    await run(CredentialHosts.setCredentialHost("git", "GitHub.com", { account: "gh:work" }));
    await run(CredentialHosts.setCredentialHost("docker", "https://ghcr.io", { account: "gh", username: "me" }));
    expect(await run(CredentialHosts.lookupCredentialHost("git", "github.com"))).toEqual({
      host: "github.com",
      account: "gh:work",
    });
    expect(await run(CredentialHosts.lookupCredentialHost("docker", "ghcr.io"))).toEqual({
      host: "ghcr.io",
      account: "gh",
      username: "me",
    });
    expect(await run(CredentialHosts.lookupCredentialHost("docker", "github.com"))).toBeUndefined();
    const config = JSON.parse(await readFile(join(home, "config.json"), "utf8"));
    expect(Object.keys(config.providers)).toEqual(["gh"]);
    await run(CredentialHosts.removeCredentialHost("git", "github.com"));
    expect(await run(CredentialHosts.listCredentialHosts("git"))).toEqual([]);
    expect((await failureOf(CredentialHosts.removeCredentialHost("git", "github.com")))._tag).toBe("NotFound");
  });

  it("setCredentialHost - should refuse an unregistered provider, a bad reference and a bad host", async () => {
    expect((await failureOf(CredentialHosts.setCredentialHost("git", "x.example", { account: "nope:me" })))._tag).toBe(
      "NotFound",
    );
    for (const [host, account] of [
      ["x.example", "gh:a:b"],
      ["not a host", "gh"],
    ] as const) {
      expect((await failureOf(CredentialHosts.setCredentialHost("git", host, { account })))._tag).toBe("InvalidInput");
    }
  });

  it("loadConfig - should name a malformed host entry by its path", async () => {
    const path = join(home, "config.json");
    const config = JSON.parse(await readFile(path, "utf8"));
    await writeFile(path, JSON.stringify({ ...config, credentialHosts: { git: { "Bad Host": { account: "gh" } } } }));
    const failure = await failureOf(CredentialHosts.listCredentialHosts("git"));
    expect(failure.message).toContain('credentialHosts.git["Bad Host"]: is not a valid host name');
  });
});
