/** `provider add` input from flags: presets overlaid with flags, explicit endpoints, rotation and grace window. */
import { InvalidInput } from "@baton/core";
import { describe, expect, it } from "vitest";
import { PRESET_NAMES } from "../../src/config/provider-presets.ts";
import { type ProviderFlags, resolveProviderSpec } from "../../src/config/provider-spec.ts";

const flags = (over: Partial<ProviderFlags>): ProviderFlags => ({
  name: "p",
  clientId: "client",
  clientSecret: undefined,
  issuer: undefined,
  scope: undefined,
  graceWindowSeconds: undefined,
  deviceOnly: false,
  preset: undefined,
  tenant: undefined,
  domain: undefined,
  endpoints: {},
  authParams: [],
  rotation: undefined,
  revokesAccessToken: false,
  username: undefined,
  ...over,
});

const spec = (over: Partial<ProviderFlags>) => {
  const result = resolveProviderSpec(flags(over));
  if (result instanceof InvalidInput) throw new Error(result.message);
  return result;
};

describe("resolveProviderSpec", () => {
  it("resolveProviderSpec - should discover with --issuer alone, and use explicit endpoints without discovery", () => {
    expect(spec({ issuer: "https://idp.example" }).explicit).toBeUndefined();
    const explicit = spec({ endpoints: { token_endpoint: "https://idp.example/oauth/token" } });
    expect(explicit.explicit).toEqual({
      issuer: "https://idp.example",
      metadata: { token_endpoint: "https://idp.example/oauth/token" },
    });
  });

  it("resolveProviderSpec - should give every preset https endpoints, a token endpoint and a consistent behaviour", () => {
    for (const preset of PRESET_NAMES) {
      const result = resolveProviderSpec(
        flags({
          preset,
          domain: ["auth0", "okta", "keycloak"].includes(preset) ? "idp.example.org" : undefined,
          tenant: preset === "keycloak" ? "dev" : undefined,
          clientSecret: "s",
        }),
      );
      if (result instanceof InvalidInput) throw new Error(`${preset}: ${result.message}`);
      const urls = Object.values(result.explicit?.metadata ?? {}).filter((v): v is string => typeof v === "string");
      expect(urls.length, preset).toBeGreaterThan(1);
      for (const url of urls) expect(url.startsWith("https://"), `${preset} ${url}`).toBe(true);
      expect(result.explicit?.metadata.token_endpoint, preset).toBeDefined();
      expect(result.input.rotation === "grace", preset).toBe((result.input.graceWindowSeconds ?? 0) > 0);
    }
  });

  it("resolveProviderSpec - should let flags override the preset (scope, grace window, endpoints, parameters)", () => {
    const google = spec({ preset: "google", clientSecret: "s", scope: "email", authParams: ["hd=example.org"] });
    expect(google.input).toMatchObject({
      scope: "email",
      rotation: "none",
      authorizationParameters: { access_type: "offline", prompt: "consent", hd: "example.org" },
      username: "oauth2accesstoken",
    });
    const auth0 = spec({ preset: "auth0", domain: "t.eu.auth0.com", graceWindowSeconds: 10 });
    expect(auth0.input).toMatchObject({ issuer: "https://t.eu.auth0.com/", rotation: "grace", graceWindowSeconds: 10 });
    const okta = spec({ preset: "okta", domain: "corp.okta.com", graceWindowSeconds: 0 });
    expect(okta.input).toMatchObject({ rotation: "strict", graceWindowSeconds: 0 });
    const gitlab = spec({ preset: "gitlab", endpoints: { revocation_endpoint: "https://gitlab.com/other/revoke" } });
    expect(gitlab.explicit?.metadata.revocation_endpoint).toBe("https://gitlab.com/other/revoke");
    expect(gitlab.input.revokesAccessTokenOnRefresh).toBe(true);
  });

  it("resolveProviderSpec - should refuse inconsistent rotation flags and bad parameters, naming the flag", () => {
    const problems: Array<[Partial<ProviderFlags>, string]> = [
      [{ issuer: "https://i.example", rotation: "grace" }, "--rotation grace"],
      [{ issuer: "https://i.example", rotation: "none", graceWindowSeconds: 5 }, "--grace-window"],
      [{ issuer: "https://i.example", rotation: "sometimes" }, "--rotation"],
      [{ issuer: "https://i.example", authParams: ["novalue"] }, "--auth-param"],
      [{ issuer: "https://i.example", authParams: ["a=1", "a=2"] }, "a is given twice"],
      [{ endpoints: { authorization_endpoint: "https://i.example/a" } }, "--token-endpoint: required"],
      [{}, "--issuer: required"],
      [{ issuer: "https://i.example", tenant: "t" }, "--tenant: only with --preset"],
      [{ preset: "microsoft", tenant: "bad tenant" }, "--tenant"],
    ];
    for (const [over, message] of problems) {
      const result = resolveProviderSpec(flags(over));
      expect(result, JSON.stringify(over)).toBeInstanceOf(InvalidInput);
      expect((result as InvalidInput).message).toContain(message);
    }
  });
});
