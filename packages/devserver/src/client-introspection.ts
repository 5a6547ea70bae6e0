/**
 * Whether the public client may introspect its own tokens (RFC 7662), the way baton resolves an in-doubt refresh:
 * still active → it never rotated; inactive → it did.
 *
 * On (the default), oidc-provider serves it: the public client authenticates with `client_id` alone (token endpoint
 * auth `none`), `introspectionAllowed` in provider-configuration.ts shows it its own tokens only, and discovery
 * advertises `introspection_endpoint`.
 *
 * Off, the server looks to the public client like a provider without introspection (many have none): discovery
 * leaves `introspection_endpoint` out and the endpoint answers 404, exactly like a path oidc-provider does not serve.
 * Only requests authenticated (HTTP Basic) as the confidential test introspector pass, so tests keep their referee
 * (`isTokenActive`); oidc-provider still checks its secret.
 */
import type { KoaContextWithOIDC } from "oidc-provider";
import { INTROSPECTOR_CLIENT_ID, ROUTES } from "./provider-configuration.ts";
import type { ProviderMiddleware } from "./token-endpoint-controls.ts";

const DISCOVERY_PATH = "/.well-known/openid-configuration";

/** The client id of an `Authorization: Basic` header (RFC 6749 section 2.3.1: form-encoded), if there is one. */
function basicClientId(ctx: KoaContextWithOIDC): string | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(ctx.get("authorization"));
  if (match?.[1] === undefined) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const separator = decoded.indexOf(":");
  if (separator === -1) return undefined;
  try {
    return decodeURIComponent(decoded.slice(0, separator).replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The middleware that hides introspection from everyone but the test introspector. Install it only when off. */
export function withoutClientIntrospection(): ProviderMiddleware {
  return async (ctx, next) => {
    if (ctx.path === ROUTES.introspection && basicClientId(ctx) !== INTROSPECTOR_CLIENT_ID) {
      ctx.status = 404;
      ctx.body = "Not Found";
      return;
    }
    await next();
    if (ctx.method === "GET" && ctx.path === DISCOVERY_PATH && isRecord(ctx.body)) {
      const { introspection_endpoint: _hidden, ...advertised } = ctx.body;
      ctx.body = advertised;
    }
  };
}
