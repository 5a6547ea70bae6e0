/**
 * A deliberately plain OAuth client for the devserver tests: PKCE from node:crypto, form-encoded POSTs with fetch,
 * JSON bodies narrowed from `unknown`. It is independent of baton's own HTTP adapter so the tests check the server,
 * not the client under development.
 */
import { createHash, randomBytes } from "node:crypto";
import type { AuthorizationServer } from "../src/index.ts";
import { approveAuthorization, DEVICE_CODE_GRANT_TYPE } from "../src/index.ts";

/** What the helpers need to know about a server: an in-process `AuthorizationServer` or a standalone one. */
export type ServerUnderTest = Pick<AuthorizationServer, "issuer" | "clientId" | "scopes">;

export interface Pkce {
  readonly verifier: string;
  readonly challenge: string;
}

export interface FormResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

export interface Tokens {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly expiresIn: number;
}

export function createPkce(): Pkce {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function stringField(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (typeof value !== "string") throw new Error(`expected a string "${name}" in the response`);
  return value;
}

export async function discover(server: ServerUnderTest): Promise<Record<string, unknown>> {
  const response = await fetch(`${server.issuer}/.well-known/openid-configuration`);
  const body: unknown = await response.json();
  if (!isRecord(body)) throw new Error("discovery document is not an object");
  return body;
}

export async function postForm(
  url: string,
  parameters: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<FormResponse> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json", ...headers },
    body: new URLSearchParams(parameters).toString(),
  });
  const text = await response.text();
  const parsed: unknown = text === "" ? {} : JSON.parse(text);
  return { status: response.status, headers: response.headers, body: isRecord(parsed) ? parsed : {} };
}

export function tokensFrom(response: FormResponse): Tokens {
  if (response.status !== 200)
    throw new Error(`token request failed: HTTP ${response.status} ${String(response.body.error)}`);
  const expiresIn = response.body.expires_in;
  return {
    accessToken: stringField(response.body, "access_token"),
    refreshToken: stringField(response.body, "refresh_token"),
    expiresIn: typeof expiresIn === "number" ? expiresIn : Number.NaN,
  };
}

export function authorizationUrl(
  server: ServerUnderTest,
  pkce: Pkce | undefined,
  state: string,
  redirectUri: string,
): string {
  const url = new URL("/auth", server.issuer);
  url.searchParams.set("client_id", server.clientId);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("scope", server.scopes);
  url.searchParams.set("redirect_uri", redirectUri);
  url.searchParams.set("state", state);
  if (pkce !== undefined) {
    url.searchParams.set("code_challenge", pkce.challenge);
    url.searchParams.set("code_challenge_method", "S256");
  }
  return url.href;
}

/** Runs the authorization code flow with PKCE through the headless user and exchanges the code. */
export async function signIn(
  server: ServerUnderTest,
  redirectUri = "http://127.0.0.1:49152/callback",
): Promise<Tokens> {
  const pkce = createPkce();
  const callback = new URL(await approveAuthorization(authorizationUrl(server, pkce, "sign-in", redirectUri)));
  const code = callback.searchParams.get("code");
  if (code === null) throw new Error(`no code in the callback: ${callback.searchParams.get("error")}`);
  return tokensFrom(
    await postForm(`${server.issuer}/token`, {
      grant_type: "authorization_code",
      client_id: server.clientId,
      code,
      code_verifier: pkce.verifier,
      redirect_uri: redirectUri,
    }),
  );
}

export function refresh(server: ServerUnderTest, refreshToken: string): Promise<FormResponse> {
  return postForm(`${server.issuer}/token`, {
    grant_type: "refresh_token",
    client_id: server.clientId,
    refresh_token: refreshToken,
  });
}

export function pollDeviceCode(server: ServerUnderTest, deviceCode: string): Promise<FormResponse> {
  return postForm(`${server.issuer}/token`, {
    grant_type: DEVICE_CODE_GRANT_TYPE,
    client_id: server.clientId,
    device_code: deviceCode,
  });
}
