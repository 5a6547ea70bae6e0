/**
 * The thin client's Tokens service against a fake broker on a unix socket: one request for many concurrent callers
 * of an account, a fresh hand-out answered from memory, a new request once it is no longer fresh, the expiry measured
 * on this machine's clock (a broker clock far ahead does not make a token look fresher), a forced refresh refused,
 * and `prime` of an account without credentials being `undefined`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tokens } from "@baton/core";
import { Effect } from "effect";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseBrokerAddress } from "../../src/broker/address.ts";
import * as BrokerTokens from "../../src/broker/tokens.ts";
import { errorDocument, type HandOut } from "../../src/broker/wire.ts";

const directory = mkdtempSync(join(tmpdir(), "baton-thin-tokens-"));
const socket = join(directory, "broker.sock");
let requests = 0;
/** What the fake broker lends next: lifetime and remaining seconds, and how far its clock is ahead. */
let lending = { lifetimeS: 3600, remainingS: 3000, aheadMs: 0 };
let server: Server;

const rfc3339 = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");

beforeAll(async () => {
  server = createServer((request, response) => {
    requests += 1;
    const account = new URL(request.url ?? "", "http://x").searchParams.get("account");
    if (account === "demo:none") {
      response.writeHead(409);
      response.end(
        JSON.stringify(
          errorDocument({ class: "login-required", reason: "no-credentials", message: "run baton login", account }),
        ),
      );
      return;
    }
    const now = Date.now() + lending.aheadMs;
    const expiresAt = now + lending.remainingS * 1000;
    const answer: HandOut = {
      access_token: `token-${requests}`,
      token_type: "Bearer",
      expires_at: rfc3339(expiresAt),
      expires_in: lending.remainingS,
      scope: "openid",
      account: account ?? "",
      generation: requests,
      obtained_at: rfc3339(expiresAt - lending.lifetimeS * 1000),
      username: "oauth2",
      cache_until: rfc3339(expiresAt - 60_000),
    };
    setTimeout(() => response.end(JSON.stringify(answer)), 30);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(directory, { recursive: true, force: true });
});

beforeEach(() => {
  requests = 0;
  lending = { lifetimeS: 3600, remainingS: 3000, aheadMs: 0 };
});

const account = { provider: "demo", account: "you" };

const withTokens = <A, E>(use: (tokens: Tokens.TokensShape) => Effect.Effect<A, E>) => {
  const address = parseBrokerAddress(`unix:${socket}`);
  if ("problem" in address) throw new Error(address.problem);
  return Effect.runPromise(
    Tokens.Tokens.use(use).pipe(Effect.provide(BrokerTokens.layer({ brokers: [{ address }], token: undefined }))),
  );
};

describe("BrokerTokens", () => {
  it("accessToken - should ask the broker once for concurrent callers and answer a fresh token from memory", async () => {
    const tokens = await withTokens((service) =>
      Effect.gen(function* () {
        const first = yield* Effect.all(
          Array.from({ length: 10 }, () => service.accessToken(account)),
          { concurrency: "unbounded" },
        );
        const later = yield* service.accessToken(account);
        return [...first, later];
      }),
    );
    expect(new Set(tokens)).toEqual(new Set(["token-1"]));
    expect(requests).toBe(1);
  });

  it("credentials - should ask again once the held token is no longer fresh", async () => {
    lending = { lifetimeS: 3600, remainingS: 60, aheadMs: 0 };
    const tokens = await withTokens((service) =>
      Effect.all([service.accessToken(account), service.accessToken(account)]),
    );
    expect(tokens).toEqual(["token-1", "token-2"]);
  });

  it("credentials - should measure the expiry on this machine's clock, whatever the broker's clock says", async () => {
    lending = { lifetimeS: 3600, remainingS: 3000, aheadMs: 86_400_000 };
    const credentials = await withTokens((service) => service.credentials(account));
    expect(credentials.expiresAt - Date.now()).toBeGreaterThan(2_990_000);
    expect(credentials.expiresAt - Date.now()).toBeLessThanOrEqual(3_000_000);
    expect(credentials.expiresAt - credentials.obtainedAt).toBe(3_600_000);
    expect(credentials.refreshToken).toBeUndefined();
  });

  it("refresh - should be refused: the broker refreshes", async () => {
    const error = await withTokens((service) => Effect.flip(service.refresh(account)));
    expect(error).toMatchObject({ _tag: "InvalidInput", message: expect.stringContaining("refreshed by the broker") });
    expect(requests).toBe(0);
  });

  it("prime - should be undefined for an account without credentials, and the error for accessToken", async () => {
    const none = { provider: "demo", account: "none" };
    expect(await withTokens((service) => service.prime(none))).toBeUndefined();
    expect(await withTokens((service) => Effect.flip(service.accessToken(none)))).toMatchObject({
      _tag: "LoginRequired",
      reason: "no-credentials",
      account: "demo:none",
    });
  });
});
