/**
 * Provider presets (`baton provider add NAME --preset P`): what discovery cannot tell about the big providers, as
 * data. Each preset gives the issuer and endpoints (GitHub publishes no discovery document for OAuth apps; Entra's
 * issuer is templated by tenant), the extra authorization parameters some providers need to hand out a refresh
 * token at all (Google: `access_type=offline` + `prompt=consent`), how the provider treats a refresh token presented
 * twice (`rotation`: strict / grace / none, with the grace window), whether a refresh also revokes the access token
 * it replaces (GitLab), and the user name tools pair with its access tokens (git, docker).
 *
 * The figures are the vendors' documented defaults (docs/integrations.md lists them with the caveats); a tenant that
 * changed them overrides with `--rotation`, `--grace-window` or explicit endpoints. Presets point at real hosts: the
 * tests check each preset's record here and each quirk against the local authorization server set up to behave alike.
 */
import type { ProviderMetadata, Rotation } from "./provider-config.ts";

export const PRESET_NAMES = ["github", "gitlab", "google", "microsoft", "auth0", "okta", "keycloak"] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

export const isPresetName = (name: string): name is PresetName =>
  (PRESET_NAMES as ReadonlyArray<string>).includes(name);

export interface PresetOptions {
  /** Entra tenant (default `common`), Okta authorization server (default `default`), Keycloak realm (required). */
  readonly tenant: string | undefined;
  /** The provider's host for self-hosted or per-customer providers (GitLab, GitHub Enterprise, Auth0, Okta, Keycloak). */
  readonly domain: string | undefined;
}

/** What a preset contributes to a provider record. */
export interface PresetRecord {
  readonly issuer: string;
  readonly metadata: ProviderMetadata;
  readonly scope: string | undefined;
  readonly rotation: Rotation;
  readonly graceWindowSeconds: number;
  readonly revokesAccessTokenOnRefresh: boolean;
  readonly authorizationParameters: Readonly<Record<string, string>> | undefined;
  readonly username: string | undefined;
  /** The provider refuses refreshes from a client without its secret. */
  readonly needsClientSecret: boolean;
  /** One line printed by `provider add`: what the user should know about this provider. */
  readonly note: string;
}

const DOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+(:[0-9]{1,5})?$/;
const TENANT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const OIDC_ALGORITHMS = { id_token_signing_alg_values_supported: ["RS256"] } as const;

type Definition = (options: {
  readonly tenant: string | undefined;
  readonly domain: string | undefined;
}) => PresetRecord;

const DEFINITIONS: Record<
  PresetName,
  {
    readonly domain: "none" | "optional" | "required";
    readonly tenant: "none" | "optional" | "required";
    readonly build: Definition;
  }
> = {
  github: {
    domain: "optional",
    tenant: "none",
    build: ({ domain }) => {
      const base = `https://${domain ?? "github.com"}`;
      return {
        issuer: base,
        metadata: {
          authorization_endpoint: `${base}/login/oauth/authorize`,
          token_endpoint: `${base}/login/oauth/access_token`,
          device_authorization_endpoint: `${base}/login/device/code`,
        },
        scope: undefined,
        rotation: "strict",
        graceWindowSeconds: 0,
        revokesAccessTokenOnRefresh: false,
        authorizationParameters: undefined,
        username: "x-access-token",
        needsClientSecret: true,
        note:
          "GitHub has no discovery for OAuth apps (endpoints built in); only GitHub Apps with expiring user tokens get " +
          "refresh tokens (8 h access, single-use refresh); OAuth-app tokens never expire and need no baton",
      };
    },
  },
  gitlab: {
    domain: "optional",
    tenant: "none",
    build: ({ domain }) => {
      const base = `https://${domain ?? "gitlab.com"}`;
      return {
        issuer: base,
        metadata: {
          authorization_endpoint: `${base}/oauth/authorize`,
          token_endpoint: `${base}/oauth/token`,
          device_authorization_endpoint: `${base}/oauth/authorize_device`,
          revocation_endpoint: `${base}/oauth/revoke`,
          introspection_endpoint: `${base}/oauth/introspect`,
          ...OIDC_ALGORITHMS,
        },
        scope: undefined,
        rotation: "strict",
        graceWindowSeconds: 0,
        revokesAccessTokenOnRefresh: true,
        authorizationParameters: undefined,
        username: "oauth2",
        needsClientSecret: false,
        note: "GitLab rotates refresh tokens (single use) and a refresh also revokes the previous access token",
      };
    },
  },
  google: {
    domain: "none",
    tenant: "none",
    build: () => ({
      issuer: "https://accounts.google.com",
      metadata: {
        authorization_endpoint: "https://accounts.google.com/o/oauth2/v2/auth",
        token_endpoint: "https://oauth2.googleapis.com/token",
        device_authorization_endpoint: "https://oauth2.googleapis.com/device/code",
        revocation_endpoint: "https://oauth2.googleapis.com/revoke",
        ...OIDC_ALGORITHMS,
      },
      scope: "openid email",
      rotation: "none",
      graceWindowSeconds: 0,
      revokesAccessTokenOnRefresh: false,
      authorizationParameters: { access_type: "offline", prompt: "consent" },
      username: "oauth2accesstoken",
      needsClientSecret: true,
      note:
        "Google refresh tokens do not rotate; access_type=offline and prompt=consent are sent so that a refresh " +
        "token is issued at all (apps in testing: refresh tokens expire after 7 days)",
    }),
  },
  microsoft: {
    domain: "none",
    tenant: "optional",
    build: ({ tenant }) => {
      const base = `https://login.microsoftonline.com/${tenant ?? "common"}`;
      return {
        issuer: `${base}/v2.0`,
        metadata: {
          authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
          token_endpoint: `${base}/oauth2/v2.0/token`,
          device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
          ...OIDC_ALGORITHMS,
        },
        scope: "offline_access",
        rotation: "none",
        graceWindowSeconds: 0,
        revokesAccessTokenOnRefresh: false,
        authorizationParameters: undefined,
        username: undefined,
        needsClientSecret: false,
        note:
          "Entra issues a new refresh token on each use and leaves the old one valid; add your API's scope with " +
          "--scope (an ID token issued for the common tenant names the user's own tenant, so avoid `openid` there)",
      };
    },
  },
  auth0: {
    domain: "required",
    tenant: "none",
    build: ({ domain }) => {
      const base = `https://${domain}`;
      return {
        issuer: `${base}/`,
        metadata: {
          authorization_endpoint: `${base}/authorize`,
          token_endpoint: `${base}/oauth/token`,
          device_authorization_endpoint: `${base}/oauth/device/code`,
          revocation_endpoint: `${base}/oauth/revoke`,
          ...OIDC_ALGORITHMS,
        },
        scope: "openid offline_access",
        rotation: "strict",
        graceWindowSeconds: 0,
        revokesAccessTokenOnRefresh: false,
        authorizationParameters: undefined,
        username: undefined,
        needsClientSecret: false,
        note:
          "Auth0 rotation is opt-in and revokes the family on reuse; if your tenant sets a reuse interval, pass it " +
          "as --grace-window SECONDS",
      };
    },
  },
  okta: {
    domain: "required",
    tenant: "optional",
    build: ({ domain, tenant }) => {
      const base = `https://${domain}/oauth2/${tenant ?? "default"}`;
      return {
        issuer: base,
        metadata: {
          authorization_endpoint: `${base}/v1/authorize`,
          token_endpoint: `${base}/v1/token`,
          device_authorization_endpoint: `${base}/v1/device/authorize`,
          revocation_endpoint: `${base}/v1/revoke`,
          introspection_endpoint: `${base}/v1/introspect`,
          ...OIDC_ALGORITHMS,
        },
        scope: "openid offline_access",
        rotation: "grace",
        graceWindowSeconds: 30,
        revokesAccessTokenOnRefresh: false,
        authorizationParameters: undefined,
        username: undefined,
        needsClientSecret: false,
        note: "Okta accepts the previous refresh token for a grace period (default 30 s; --grace-window to change)",
      };
    },
  },
  keycloak: {
    domain: "required",
    tenant: "required",
    build: ({ domain, tenant }) => {
      const base = `https://${domain}/realms/${tenant}`;
      return {
        issuer: base,
        metadata: {
          authorization_endpoint: `${base}/protocol/openid-connect/auth`,
          token_endpoint: `${base}/protocol/openid-connect/token`,
          device_authorization_endpoint: `${base}/protocol/openid-connect/auth/device`,
          revocation_endpoint: `${base}/protocol/openid-connect/revoke`,
          introspection_endpoint: `${base}/protocol/openid-connect/token/introspect`,
          ...OIDC_ALGORITHMS,
        },
        scope: "openid",
        rotation: "none",
        graceWindowSeconds: 0,
        revokesAccessTokenOnRefresh: false,
        authorizationParameters: undefined,
        username: undefined,
        needsClientSecret: false,
        note:
          "Keycloak leaves old refresh tokens valid unless the realm enables 'Revoke Refresh Token'; then use " +
          "--rotation strict, or --grace-window N for its 'Refresh Token Max Reuse'",
      };
    },
  },
};

/** The preset's record for the given tenant/domain, or a problem naming the flag. */
export const expandPreset = (name: PresetName, options: PresetOptions): PresetRecord | { readonly problem: string } => {
  const definition = DEFINITIONS[name];
  const { tenant, domain } = options;
  if (domain !== undefined && definition.domain === "none")
    return { problem: `--domain: the ${name} preset takes none` };
  if (domain === undefined && definition.domain === "required") {
    return { problem: `--domain: the ${name} preset needs the provider's host, e.g. --domain example.${name}.com` };
  }
  if (domain !== undefined && !DOMAIN.test(domain)) {
    return { problem: `--domain: "${domain}" is not a host name (lower case, no scheme or path; optional :PORT)` };
  }
  if (tenant !== undefined && definition.tenant === "none")
    return { problem: `--tenant: the ${name} preset takes none` };
  if (tenant === undefined && definition.tenant === "required") {
    return { problem: `--tenant: the ${name} preset needs one (the realm)` };
  }
  if (tenant !== undefined && !TENANT.test(tenant)) {
    return { problem: `--tenant: "${tenant}" is not a tenant name (letters, digits, ".", "_", "-")` };
  }
  return definition.build({ tenant, domain });
};
