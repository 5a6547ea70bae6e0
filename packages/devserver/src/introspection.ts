/**
 * Asking the local authorization server whether a token is still active (RFC 7662), as its confidential
 * introspection client: how tests check that a rotation consumed a refresh token, or that a family was revoked,
 * without going through baton's own HTTP client.
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2
 */
import type { AuthorizationServer } from "./authorization-server.ts";

/** Introspects `token`; returns the `active` flag. */
export async function isTokenActive(
  server: Pick<AuthorizationServer, "issuer" | "introspectionClient">,
  token: string,
): Promise<boolean> {
  const { clientId, clientSecret } = server.introspectionClient;
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString("base64");
  const response = await fetch(`${server.issuer}/token/introspection`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
      authorization: `Basic ${basic}`,
    },
    body: new URLSearchParams({ token }).toString(),
  });
  const body: unknown = await response.json().catch(() => undefined);
  if (response.status !== 200) throw new Error(`introspection failed: HTTP ${response.status}`);
  return typeof body === "object" && body !== null && "active" in body && body.active === true;
}
