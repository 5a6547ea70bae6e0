/**
 * Provider-behaviour modes of the local authorization server, so that tests can check baton's provider presets
 * against a server that behaves like the real provider (which tests cannot reach):
 *
 * - `discovery: false` — no metadata document (GitHub's OAuth apps): every `/.well-known/` path answers 404, so a
 *   client must be given the endpoints.
 * - `rotation: "none"` — refresh tokens do not rotate (Google): oidc-provider's rotation is off and refresh answers
 *   carry no `refresh_token`, as Google's do; the one refresh token stays valid.
 * - `rotation: "grace"` with `graceWindowSeconds` — a rotated refresh token is accepted again for that long (Okta,
 *   Auth0's reuse interval, Hydra): after each rotation the old token is un-consumed in oidc-provider's store, and
 *   consumed again when the window closes; a presentation inside the window rotates it again instead of being taken
 *   as reuse. Outside the window, reuse revokes the family as in strict mode.
 * - `revokeAccessTokenOnRefresh` — a refresh also revokes the access tokens issued before it in the same grant
 *   (GitLab): introspection then says they are inactive.
 * - `clientSecret` — the public client becomes confidential (client_secret_basic), as Google and GitHub require.
 *
 * The middleware runs inside the token endpoint's one-at-a-time section (token-endpoint-controls.ts), after
 * oidc-provider has processed the request, reading what it did from `ctx.oidc.entities`.
 */
import type Provider from "oidc-provider";
import type { KoaContextWithOIDC } from "oidc-provider";
import { ROUTES } from "./provider-configuration.ts";
import type { ProviderMiddleware } from "./token-endpoint-controls.ts";

export type RotationMode = "strict" | "grace" | "none";

export interface ProviderBehaviour {
  /** Serve the metadata documents. Default true. */
  readonly discovery?: boolean;
  /** Default "strict": single use, reuse revokes the whole family. */
  readonly rotation?: RotationMode;
  /** For `rotation: "grace"`: how long a rotated refresh token stays acceptable. */
  readonly graceWindowSeconds?: number;
  /** A refresh revokes the grant's earlier access tokens. Default false. */
  readonly revokeAccessTokenOnRefresh?: boolean;
  /** Make the client confidential with this secret (client_secret_basic). Default: a public client. */
  readonly clientSecret?: string;
}

export interface ResolvedBehaviour {
  readonly discovery: boolean;
  readonly rotation: RotationMode;
  readonly graceWindowSeconds: number;
  readonly revokeAccessTokenOnRefresh: boolean;
  readonly clientSecret: string | undefined;
}

export function resolveBehaviour(behaviour: ProviderBehaviour = {}): ResolvedBehaviour {
  const rotation = behaviour.rotation ?? "strict";
  const graceWindowSeconds = behaviour.graceWindowSeconds ?? 0;
  if (rotation === "grace" && (!Number.isInteger(graceWindowSeconds) || graceWindowSeconds <= 0)) {
    throw new RangeError(`rotation "grace" needs graceWindowSeconds > 0, got ${graceWindowSeconds}`);
  }
  if (rotation !== "grace" && graceWindowSeconds !== 0) {
    throw new RangeError(`graceWindowSeconds applies to rotation "grace" only`);
  }
  if (behaviour.clientSecret !== undefined && behaviour.clientSecret.length < 16) {
    throw new RangeError("clientSecret must be at least 16 characters");
  }
  return {
    discovery: behaviour.discovery ?? true,
    rotation,
    graceWindowSeconds,
    revokeAccessTokenOnRefresh: behaviour.revokeAccessTokenOnRefresh ?? false,
    clientSecret: behaviour.clientSecret,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The access tokens issued so far in each grant, for `revokeAccessTokenOnRefresh`. */
type IssuedAccessTokens = Map<string, Set<string>>;

async function revokeEarlierAccessTokens(provider: Provider, issued: IssuedAccessTokens, ctx: KoaContextWithOIDC) {
  const current = ctx.oidc.entities.AccessToken;
  if (current === undefined) return;
  const grantId = current.grantId;
  if (grantId === undefined) return;
  const earlier = issued.get(grantId) ?? new Set<string>();
  if (ctx.oidc.params?.grant_type === "refresh_token") {
    for (const jti of earlier) await provider.AccessToken.adapter.destroy(jti);
    earlier.clear();
  }
  earlier.add(current.jti);
  issued.set(grantId, earlier);
}

/** Makes the refresh token just rotated acceptable again for the grace window, then consumes it for good. */
async function openGraceWindow(provider: Provider, ctx: KoaContextWithOIDC, seconds: number, stopping: AbortSignal) {
  const rotated = ctx.oidc.entities.RotatedRefreshToken;
  if (rotated === undefined) return;
  const adapter = provider.RefreshToken.adapter;
  const stored: unknown = await adapter.find(rotated.jti);
  if (!isRecord(stored)) return;
  delete stored.consumed;
  const close = setTimeout(() => void adapter.consume(rotated.jti).catch(() => undefined), seconds * 1000);
  close.unref();
  stopping.addEventListener("abort", () => clearTimeout(close), { once: true });
}

/** The behaviour's Koa middleware (installed with `provider.use`, after the token endpoint controls). */
export function behaviourMiddleware(
  provider: Provider,
  behaviour: ResolvedBehaviour,
  stopping: AbortSignal,
): ProviderMiddleware {
  const issued: IssuedAccessTokens = new Map();
  return async (ctx, next) => {
    if (!behaviour.discovery && ctx.path.startsWith("/.well-known/")) {
      ctx.status = 404;
      ctx.body = { error: "not_found", error_description: "this server publishes no metadata" };
      return;
    }
    await next();
    if (ctx.method !== "POST" || ctx.path !== ROUTES.token || ctx.status !== 200) return;
    const refreshGrant = ctx.oidc?.params?.grant_type === "refresh_token";
    if (behaviour.revokeAccessTokenOnRefresh) await revokeEarlierAccessTokens(provider, issued, ctx);
    if (refreshGrant && behaviour.rotation === "grace") {
      await openGraceWindow(provider, ctx, behaviour.graceWindowSeconds, stopping);
    }
    if (refreshGrant && behaviour.rotation === "none" && isRecord(ctx.body)) {
      const { refresh_token: _unchanged, ...answer } = ctx.body;
      ctx.body = answer;
    }
  };
}
