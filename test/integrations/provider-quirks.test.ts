/**
 * Providers that work out of the box. Presets point at real hosts that tests cannot reach, so each preset's record is
 * checked as stored (no network at `provider add`), and each quirk is checked against the local authorization server
 * set up to behave like that provider, with the same flags a preset sets:
 * - no discovery document (GitHub): explicit endpoints, then login and refresh;
 * - refresh tokens that do not rotate, extra authorization parameters, a confidential client (Google);
 * - a refresh that revokes the previous access token (GitLab): what baton announces to caching clients;
 * - a reuse grace window (Okta, Auth0): an in-doubt refresh is retried once inside the window and succeeds, where the
 *   strict server would have revoked the login.
 */
import { randomBytes } from "node:crypto";
import {
  type AuthorizationServer,
  isTokenActive,
  type ProviderBehaviour,
  startAuthorizationServer,
} from "@baton/devserver";
import { afterAll, describe, expect, it } from "vitest";
import { startHooked } from "../support/account.ts";
import { tempHome } from "../support/baton-cli.ts";
import { cliSession, leaks, loginWithCli } from "../support/cli-session.ts";
import { batonWithInput } from "../support/helper-processes.ts";

const servers: Array<AuthorizationServer> = [];
const cleanups: Array<() => Promise<void>> = [];
const sessions: Array<ReturnType<typeof cliSession>> = [];
const secrets = new Set<string>();

const start = async (behaviour: ProviderBehaviour) => {
  const server = await startAuthorizationServer({ accessTokenTtlSeconds: 600, behaviour });
  servers.push(server);
  return server;
};

const freshSession = async () => {
  const { home, cleanup } = await tempHome();
  cleanups.push(cleanup);
  const session = cliSession(home);
  sessions.push(session);
  return session;
};

/** The endpoint flags for the local server, as a preset would give them for the real provider. */
const endpoints = (server: AuthorizationServer) => [
  "--issuer",
  server.issuer,
  "--token-endpoint",
  `${server.issuer}/token`,
  "--authorization-endpoint",
  `${server.issuer}/auth`,
];

const tokenOf = async (session: ReturnType<typeof cliSession>, ref: string) => {
  const result = await session.run(["token", ref]);
  expect(result.code, result.stderr).toBe(0);
  secrets.add(result.stdout.trimEnd());
  return result.stdout.trimEnd();
};

const statusOf = async (session: ReturnType<typeof cliSession>, ref: string) =>
  (JSON.parse((await session.run(["status", ref, "--json"])).stdout) as { accounts: Array<Record<string, unknown>> })
    .accounts[0] ?? {};

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  for (const cleanup of cleanups) await cleanup();
});

describe("presets", () => {
  it("provider add --preset - should store the provider's endpoints and behaviour without any network", async () => {
    const session = await freshSession();
    const secret = randomBytes(16).toString("hex");
    const added = await batonWithInput(
      session.home,
      ["provider", "add", "gh", "--preset", "github", "--client-id", "Iv1.test", "--client-secret-stdin"],
      `${secret}\n`,
    );
    expect(added.code, added.stderr).toBe(0);
    expect(added.stderr).toContain("note: GitHub has no discovery");
    for (const args of [
      ["provider", "add", "gl", "--preset", "gitlab", "--domain", "gitlab.example.org", "--client-id", "x"],
      ["provider", "add", "ms", "--preset", "microsoft", "--tenant", "contoso.onmicrosoft.com", "--client-id", "x"],
      ["provider", "add", "ok", "--preset", "okta", "--domain", "corp.okta.com", "--client-id", "x"],
      [
        "provider",
        "add",
        "kc",
        "--preset",
        "keycloak",
        "--domain",
        "sso.example.org",
        "--tenant",
        "dev",
        "--client-id",
        "x",
      ],
    ]) {
      const result = await session.run(args);
      expect(result.code, result.stderr).toBe(0);
    }
    const list = await session.run(["provider", "list", "--json"]);
    expect(list.stdout).not.toContain(secret);
    const providers = (JSON.parse(list.stdout) as { providers: Array<Record<string, unknown>> }).providers;
    const byName = Object.fromEntries(providers.map((p) => [p.name, p]));
    expect(byName.gh).toMatchObject({
      issuer: "https://github.com",
      confidential: true,
      preset: "github",
      rotation: "strict",
      username: "x-access-token",
      endpoints: {
        token_endpoint: "https://github.com/login/oauth/access_token",
        authorization_endpoint: "https://github.com/login/oauth/authorize",
        device_authorization_endpoint: "https://github.com/login/device/code",
      },
    });
    expect(byName.gl).toMatchObject({
      issuer: "https://gitlab.example.org",
      revokesAccessTokenOnRefresh: true,
      username: "oauth2",
    });
    expect(byName.ms).toMatchObject({
      issuer: "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0",
      rotation: "none",
    });
    expect(byName.ok).toMatchObject({
      issuer: "https://corp.okta.com/oauth2/default",
      rotation: "grace",
      graceWindowSeconds: 30,
    });
    expect(byName.kc).toMatchObject({ issuer: "https://sso.example.org/realms/dev", rotation: "none" });
  });

  it("provider add --preset - should refuse what the preset cannot take, naming the flag (exit 2)", async () => {
    const session = await freshSession();
    const cases: Array<[Array<string>, string]> = [
      [["--preset", "auth0"], "--domain: the auth0 preset needs"],
      [["--preset", "google"], "--client-secret-stdin: the google preset needs the client secret"],
      [["--preset", "keycloak", "--domain", "sso.example.org"], "--tenant: the keycloak preset needs one"],
      [["--preset", "gitlab", "--issuer", "https://gitlab.com"], "--issuer: a preset sets the issuer"],
      [["--preset", "bitbucket"], '--preset: "bitbucket" is not one of'],
      [["--preset", "okta", "--domain", "https://x.okta.com"], "--domain: "],
      [["--issuer", "https://idp.example", "--auth-param", "state=x"], "--auth-param: state is set by baton itself"],
      [["--token-endpoint", "http://idp.example/token"], "--token-endpoint: expected an https URL"],
      [["--issuer", "https://idp.example", "--rotation", "grace"], "--rotation grace: give the window"],
    ];
    for (const [flags, message] of cases) {
      const result = await session.run(["provider", "add", "p", "--client-id", "x", ...flags]);
      expect(result.code, flags.join(" ")).toBe(2);
      expect(result.stderr, flags.join(" ")).toContain(message);
    }
    expect(JSON.parse((await session.run(["provider", "list", "--json"])).stdout).providers).toEqual([]);
  });
});

describe("quirks against the local server", () => {
  it("no discovery (GitHub) - should fail discovery clearly, then work from explicit endpoints", async () => {
    const server = await start({ discovery: false });
    const session = await freshSession();
    const discovered = await session.run([
      "provider",
      "add",
      "gh",
      "--issuer",
      server.issuer,
      "--client-id",
      server.clientId,
    ]);
    expect(discovered.code).toBe(2);
    expect(discovered.stderr).toContain("publishes no authorization server metadata");
    const added = await session.run([
      "provider",
      "add",
      "gh",
      ...endpoints(server),
      "--client-id",
      server.clientId,
      "--scope",
      "profile",
    ]);
    expect(added.code, added.stderr).toBe(0);
    expect((await loginWithCli(session.home, "gh:me")).code).toBe(0);
    const first = await tokenOf(session, "gh:me");
    const before = server.counters();
    expect((await session.run(["refresh", "gh:me"])).code).toBe(0);
    expect(await tokenOf(session, "gh:me")).not.toBe(first);
    expect(server.counters().refreshGrants - before.refreshGrants).toBe(1);
    expect(server.counters().reuseErrors).toBe(0);
  });

  it("no rotation, extra parameters, confidential client (Google) - should send the parameters and keep the one refresh token", async () => {
    const secret = randomBytes(24).toString("base64url");
    const server = await start({ rotation: "none", clientSecret: secret });
    const session = await freshSession();
    const add = [
      "provider",
      "add",
      "goog",
      ...endpoints(server),
      "--client-id",
      server.clientId,
      "--scope",
      "profile",
      "--client-secret-stdin",
      "--auth-param",
      "access_type=offline",
      "--auth-param",
      "prompt=consent",
      "--rotation",
      "none",
    ];
    const added = await batonWithInput(session.home, add, secret);
    expect(added.code, added.stderr).toBe(0);
    const login = await loginWithCli(session.home, "goog:me");
    expect(login.code, login.stderr).toBe(0);
    const url = new URL(/^(https?:\/\/\S+)$/m.exec(login.stderr)?.[1] ?? "http://missing");
    expect(url.searchParams.get("access_type")).toBe("offline");
    expect(url.searchParams.get("prompt")).toBe("consent");
    const refreshFp = (await statusOf(session, "goog:me")).generation;
    expect(refreshFp).toBe(1);
    const replay = async () =>
      (
        JSON.parse((await session.run(["replay", "goog:me", "--json"])).stdout) as {
          accounts: Array<{ events: Array<Record<string, unknown>> }>;
        }
      ).accounts[0]?.events.filter((event) => event.type === "credentials.stored") ?? [];
    for (let i = 0; i < 2; i++) expect((await session.run(["refresh", "goog:me"])).code).toBe(0);
    const stored = await replay();
    expect(stored.map((event) => event.generation)).toEqual([1, 2, 3]);
    expect(new Set(stored.map((event) => event.refreshFp)).size).toBe(1);
    expect(new Set(stored.map((event) => event.accessFp)).size).toBe(3);
    expect(server.counters()).toMatchObject({ refreshGrants: 2, reuseErrors: 0, grantsRevoked: 0 });
  });

  it("refresh revokes the old access token (GitLab) - should announce an expiry no later than baton's own refresh point", async () => {
    const server = await start({ revokeAccessTokenOnRefresh: true });
    const session = await freshSession();
    const add = [
      "provider",
      "add",
      "gl",
      ...endpoints(server),
      "--client-id",
      server.clientId,
      "--scope",
      "profile",
      "--revokes-access-token",
    ];
    expect((await session.run(add)).code).toBe(0);
    expect((await loginWithCli(session.home, "gl:me")).code).toBe(0);
    const json = JSON.parse((await session.run(["token", "gl:me", "--json"])).stdout) as Record<string, string>;
    secrets.add(json.access_token ?? "");
    const expiresAt = Date.parse(json.expires_at ?? "");
    const answer = await batonWithInput(
      session.home,
      ["git-credential", "--account", "gl:me", "get"],
      "protocol=https\nhost=gitlab.example\n\n",
    );
    const announced = Number(/^password_expiry_utc=(\d+)$/m.exec(answer.stdout)?.[1]) * 1000;
    // 600 s tokens: baton refreshes at expiry - 150 s (a quarter of the lifetime); the skew margin alone is 60 s.
    expect(expiresAt - announced).toBeGreaterThanOrEqual(149_000);
    expect(expiresAt - announced).toBeLessThanOrEqual(151_000);
    const old = json.access_token ?? "";
    expect((await session.run(["refresh", "gl:me"])).code).toBe(0);
    expect(await isTokenActive(server, old)).toBe(false);
    expect(await isTokenActive(server, await tokenOf(session, "gl:me"))).toBe(true);
  });

  const inDoubtThenRetry = async (behaviour: ProviderBehaviour, providerFlags: ReadonlyArray<string>) => {
    const server = await start(behaviour);
    const session = await freshSession();
    const add = ["provider", "add", "idp", ...endpoints(server), "--client-id", server.clientId, "--scope", "profile"];
    expect((await session.run([...add, ...providerFlags])).code).toBe(0);
    expect((await loginWithCli(session.home, "idp:me")).code).toBe(0);
    // The holder dies after the server rotated and answered, before persisting: the outcome is in doubt (I9).
    const holder = startHooked(["refresh", "idp:me"], session.home, "answered:hang");
    await holder.reached;
    holder.child.kill("SIGKILL");
    await holder.done;
    const next = await session.run(["refresh", "idp:me"]);
    return { server, session, next };
  };

  it("grace window (Okta) - should retry an in-doubt refresh once inside the window and keep the login", async () => {
    const { server, next } = await inDoubtThenRetry({ rotation: "grace", graceWindowSeconds: 30 }, [
      "--grace-window",
      "30",
    ]);
    expect(next.code, next.stderr).toBe(0);
    expect(server.counters()).toMatchObject({ refreshGrants: 2, reuseErrors: 0, grantsRevoked: 0 });
  });

  it("strict rotation - should not present an in-doubt generation again: login needed, nothing sent", async () => {
    const { server, next } = await inDoubtThenRetry({}, ["--rotation", "strict"]);
    expect(next.code).toBe(3);
    expect(server.counters()).toMatchObject({ refreshGrants: 1, reuseErrors: 0 });
  });

  it("should show no token or secret in any output", () => {
    const outputs = sessions.flatMap((session) => session.outputs());
    expect(leaks(outputs, secrets)).toEqual([]);
  });
});
