/**
 * The oidc-provider configuration of baton's local authorization server: one public native client that behaves like
 * the clients baton serves (PKCE S256, loopback redirect on any port, device flow, a refresh token that rotates on
 * every use), a second public client just like it (so tests can show one client never learns about another's tokens),
 * one confidential client that may only introspect, short access-token lifetimes, and no default function left in
 * place that would print a notice.
 *
 * Decisions worth knowing, checked against oidc-provider 9.13.3's source:
 * - `clockTolerance: 0`. The default (15 s) is applied when tokens are read back, so an access token with a 1 s TTL
 *   would stay valid for 16 s.
 * - `application_type: "native"` with `http://127.0.0.1/callback` registered: for native clients
 *   `Client#redirectUriAllowed` compares loopback URIs with the port stripped (RFC 8252 section 7.3), so
 *   `http://127.0.0.1:<any port>/callback` is accepted.
 * - RFC 9207 `iss` in authorization responses needs no switch: v9 always adds it (and advertises
 *   `authorization_response_iss_parameter_supported`). There is no `issAuthResp` feature in v9.
 * - PKCE: v9 supports S256 only; `pkce.required` returns true for every client.
 * - A signing key is generated per start (EC P-256, ES256) so the development keystore and its warning are unused.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import type {
  AccessToken,
  Client,
  ClientCredentials,
  ClientMetadata,
  Configuration,
  JWKS,
  KoaContextWithOIDC,
  RefreshToken,
} from "oidc-provider";
import { renderDeviceSuccess, renderErrorPage, renderUserCodeConfirm, renderUserCodeInput } from "./device-pages.ts";

export const DEVICE_CODE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code";

/** The redirect URI registered for the public client; any port on the same loopback host and path is accepted. */
export const LOOPBACK_REDIRECT_URI = "http://127.0.0.1/callback";

/** The account every headless login signs in as. */
export const DEMO_ACCOUNT_ID = "demo-user";

/** A second public client, registered like the main one: the "other client" of introspection and revocation tests. */
export const NEIGHBOUR_CLIENT_ID = "baton-neighbour";

/** The confidential client that tests use to call the introspection endpoint. */
export const INTROSPECTOR_CLIENT_ID = "baton-introspector";

/** Endpoint paths, relative to the issuer. These are oidc-provider's defaults, spelled out so the HTTP layer can match them. */
export const ROUTES = {
  authorization: "/auth",
  token: "/token",
  deviceAuthorization: "/device/auth",
  deviceVerification: "/device",
  revocation: "/token/revocation",
  introspection: "/token/introspection",
  jwks: "/jwks",
  userinfo: "/me",
} as const;

export interface ProviderSettings {
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
  readonly introspectorSecret: string;
  /** Rotate refresh tokens on every use (default) or never (provider-behaviour.ts). */
  readonly rotateRefreshToken?: boolean;
  /** The main client's secret, making it confidential (provider-behaviour.ts); public when absent. */
  readonly clientSecret?: string | undefined;
}

const FOURTEEN_DAYS_SECONDS = 14 * 24 * 60 * 60;

function generateSigningKeys(): JWKS {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = privateKey.export({ format: "jwk" });
  return {
    keys: [
      {
        kty: "EC",
        crv: jwk.crv,
        x: jwk.x,
        y: jwk.y,
        d: jwk.d,
        kid: `devserver-${randomBytes(4).toString("hex")}`,
        alg: "ES256",
        use: "sig",
      },
    ],
  };
}

/** A native client; confidential (HTTP Basic) when it has a secret, public (`none`) otherwise. */
function nativeClient(
  clientId: string,
  clientName: string,
  settings: ProviderSettings,
  clientSecret: string | undefined,
): ClientMetadata {
  return {
    client_id: clientId,
    client_name: clientName,
    application_type: "native",
    ...(clientSecret === undefined
      ? { token_endpoint_auth_method: "none" }
      : { token_endpoint_auth_method: "client_secret_basic", client_secret: clientSecret }),
    grant_types: ["authorization_code", "refresh_token", DEVICE_CODE_GRANT_TYPE],
    response_types: ["code"],
    redirect_uris: [LOOPBACK_REDIRECT_URI],
    scope: settings.scopes.join(" "),
    id_token_signed_response_alg: "ES256",
  };
}

function clientMetadata(settings: ProviderSettings): ClientMetadata[] {
  return [
    nativeClient(settings.clientId, "baton demo", settings, settings.clientSecret),
    nativeClient(NEIGHBOUR_CLIENT_ID, "baton neighbour", settings, undefined),
    {
      client_id: INTROSPECTOR_CLIENT_ID,
      client_secret: settings.introspectorSecret,
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: [],
      response_types: [],
      redirect_uris: [],
      id_token_signed_response_alg: "ES256",
    },
  ];
}

type TokenPolicy = (
  ctx: KoaContextWithOIDC,
  client: Client,
  token: AccessToken | ClientCredentials | RefreshToken,
) => boolean;

/** Introspection: the introspector sees every token, other clients only their own (oidc-provider's default rule). */
const introspectionAllowed: TokenPolicy = (_ctx, client, token) =>
  client.clientId === INTROSPECTOR_CLIENT_ID || token.clientId === client.clientId;

/** Revocation: a client may revoke its own tokens; other tokens are ignored (200, token untouched) as RFC 7009 allows. */
const revocationAllowed: TokenPolicy = (_ctx, client, token) => token.clientId === client.clientId;

export function buildProviderConfiguration(settings: ProviderSettings): Configuration {
  const scopes = [...new Set(["openid", "offline_access", ...settings.scopes])];
  const longLivedSeconds = Math.max(settings.refreshTokenTtlSeconds, FOURTEEN_DAYS_SECONDS);
  return {
    clients: clientMetadata(settings),
    jwks: generateSigningKeys(),
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    clockTolerance: 0,
    scopes,
    claims: { openid: ["sub"], profile: ["name"] },
    responseTypes: ["code"],
    pkce: { required: () => true },
    rotateRefreshToken: settings.rotateRefreshToken ?? true,
    // Every client allowed the refresh_token grant gets a refresh token, with or without offline_access.
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    // Tokens outlive the browser session of the headless user.
    expiresWithSession: () => false,
    findAccount: (_ctx, sub) => ({
      accountId: sub,
      claims: () => ({ sub, name: "Demo User" }),
    }),
    clientBasedCORS: () => false,
    renderError: renderErrorPage,
    ttl: {
      AccessToken: settings.accessTokenTtlSeconds,
      IdToken: settings.accessTokenTtlSeconds,
      // Each rotation starts a fresh lifetime: the family lives as long as it keeps being used.
      RefreshToken: settings.refreshTokenTtlSeconds,
      AuthorizationCode: 60,
      DeviceCode: 600,
      Interaction: 600,
      Grant: longLivedSeconds,
      Session: longLivedSeconds,
    },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: true,
        charset: "base-20",
        mask: "****-****",
        userCodeInputSource: renderUserCodeInput,
        userCodeConfirmSource: renderUserCodeConfirm,
        successSource: renderDeviceSuccess,
      },
      revocation: { enabled: true, allowedPolicy: revocationAllowed },
      introspection: { enabled: true, allowedPolicy: introspectionAllowed },
      resourceIndicators: { enabled: false },
      rpInitiatedLogout: { enabled: false },
    },
  };
}
