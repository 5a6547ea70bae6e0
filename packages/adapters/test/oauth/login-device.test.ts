/**
 * Tests of the device login (RFC 8628): approved and denied headlessly on the local authorization server, and the
 * polling rules (interval, slow_down, expired_token, expiry, backoff on 5xx) against a scripted server.
 */

import {
  type AuthorizationServer,
  approveDeviceCode,
  denyDeviceCode,
  startAuthorizationServer,
} from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OAuthTarget } from "../../src/oauth/client.ts";
import { type DevicePrompt, login } from "../../src/oauth/login-device.ts";
import { devserverTarget, failureOf, run, type ScriptedServer, sendJson, startScripted } from "./helpers.ts";

let server: AuthorizationServer;
let target: OAuthTarget;

beforeAll(async () => {
  server = await startAuthorizationServer({ deviceInterval: 1 });
  target = await devserverTarget(server);
});
afterAll(async () => {
  await server.stop();
});

const DEVICE_CODE = "device-code-value-that-is-long-enough-to-look-like-a-token";

/** A device authorization endpoint plus a token endpoint answering polls from `answers` (last one repeats). */
const scriptedDeviceServer = async (
  answers: ReadonlyArray<readonly [number, unknown]>,
  authorization: Record<string, unknown> = {},
): Promise<{ readonly scripted: ScriptedServer; readonly target: OAuthTarget; readonly pollTimes: Array<number> }> => {
  const pollTimes: Array<number> = [];
  let polls = 0;
  const scripted = await startScripted((request, response) => {
    if (request.url === "/device") {
      sendJson(response, 200, {
        device_code: DEVICE_CODE,
        user_code: "ABCD-\u001b[2JEFGH",
        verification_uri: `${scripted.origin}/activate`,
        expires_in: 600,
        ...authorization,
      });
      return;
    }
    pollTimes.push(Date.now());
    const [status, body] = answers[Math.min(polls, answers.length - 1)] ?? [500, {}];
    polls += 1;
    sendJson(response, status, body);
  });
  return {
    scripted,
    pollTimes,
    target: {
      issuer: scripted.origin,
      clientId: "device-client",
      metadata: {
        token_endpoint: `${scripted.origin}/token`,
        device_authorization_endpoint: `${scripted.origin}/device`,
      },
    },
  };
};

const TOKENS = { access_token: "access-token-value", token_type: "Bearer", expires_in: 60, refresh_token: "rt-value" };

describe("device login", () => {
  it("login - should show the user code, poll, and return tokens once the user approves", async () => {
    let prompt: DevicePrompt | undefined;
    let approval: Promise<void> | undefined;
    const result = await run(
      login({
        target,
        scope: server.scopes,
        intervalSeconds: 0.05,
        onPrompt: (shown) => {
          prompt = shown;
          approval = approveDeviceCode(server, shown.userCode);
        },
      }),
    );
    await approval;
    expect(prompt?.verificationUri).toBe(`${server.issuer}/device`);
    expect(prompt?.expiresIn).toBe(600);
    expect(result.tokens.refreshToken).toBeDefined();
    expect(result.tokens.tokenType).toBe("Bearer");
    expect(server.counters().deviceApprovals).toBe(1);
  });

  it("login - should fail with access_denied when the user denies", async () => {
    let denial: Promise<void> | undefined;
    const error = await failureOf(
      login({
        target,
        scope: server.scopes,
        intervalSeconds: 0.05,
        onPrompt: (shown) => {
          denial = denyDeviceCode(server, shown.userCode);
        },
      }),
    );
    await denial;
    expect(error).toMatchObject({ _tag: "LoginFailed", reason: "access_denied" });
  });

  it("login - should strip control characters from what it shows", async () => {
    const { scripted, target: scriptedTarget } = await scriptedDeviceServer([[200, TOKENS]]);
    try {
      let prompt: DevicePrompt | undefined;
      await run(login({ target: scriptedTarget, intervalSeconds: 0.01, onPrompt: (p) => (prompt = p) }));
      expect(prompt?.userCode).toBe("ABCD-[2JEFGH");
    } finally {
      await scripted.stop();
    }
  });

  it("login - should add the slow_down increment to the interval for every later poll", async () => {
    const {
      scripted,
      target: scriptedTarget,
      pollTimes,
    } = await scriptedDeviceServer([
      [400, { error: "authorization_pending" }],
      [400, { error: "slow_down" }],
      [400, { error: "authorization_pending" }],
      [200, TOKENS],
    ]);
    try {
      const result = await run(
        login({ target: scriptedTarget, intervalSeconds: 0.02, slowDownSeconds: 0.2, onPrompt: () => undefined }),
      );
      expect(result.tokens.accessToken).toBe("access-token-value");
      expect(pollTimes).toHaveLength(4);
      const gaps = pollTimes.slice(1).map((time, index) => time - (pollTimes[index] ?? 0));
      expect(gaps[0]).toBeLessThan(150);
      expect(gaps[1]).toBeGreaterThanOrEqual(200);
      expect(gaps[2]).toBeGreaterThanOrEqual(200);
    } finally {
      await scripted.stop();
    }
  });

  it("login - should honour the server's interval when no override is given", async () => {
    const {
      scripted,
      target: scriptedTarget,
      pollTimes,
    } = await scriptedDeviceServer(
      [
        [400, { error: "authorization_pending" }],
        [200, TOKENS],
      ],
      { interval: 1 },
    );
    try {
      const started = Date.now();
      await run(login({ target: scriptedTarget, onPrompt: () => undefined }));
      expect((pollTimes[0] ?? 0) - started).toBeGreaterThanOrEqual(950);
      expect((pollTimes[1] ?? 0) - (pollTimes[0] ?? 0)).toBeGreaterThanOrEqual(950);
    } finally {
      await scripted.stop();
    }
  });

  it("login - should fail with expired when the server answers expired_token", async () => {
    const { scripted, target: scriptedTarget } = await scriptedDeviceServer([
      [400, { error: "authorization_pending" }],
      [400, { error: "expired_token" }],
    ]);
    try {
      const error = await failureOf(
        login({ target: scriptedTarget, intervalSeconds: 0.01, onPrompt: () => undefined }),
      );
      expect(error).toMatchObject({ _tag: "LoginFailed", reason: "expired" });
    } finally {
      await scripted.stop();
    }
  });

  it("login - should stop polling when expires_in has passed", async () => {
    const { scripted, target: scriptedTarget } = await scriptedDeviceServer(
      [[400, { error: "authorization_pending" }]],
      { expires_in: 1 },
    );
    try {
      const error = await failureOf(login({ target: scriptedTarget, intervalSeconds: 0.1, onPrompt: () => undefined }));
      expect(error).toMatchObject({ _tag: "LoginFailed", reason: "expired" });
    } finally {
      await scripted.stop();
    }
  });

  it("login - should back off on 5xx and keep polling", async () => {
    const {
      scripted,
      target: scriptedTarget,
      pollTimes,
    } = await scriptedDeviceServer([
      [503, { error: "temporarily_unavailable" }],
      [200, TOKENS],
    ]);
    try {
      const result = await run(login({ target: scriptedTarget, intervalSeconds: 0.05, onPrompt: () => undefined }));
      expect(result.tokens.refreshToken).toBe("rt-value");
      expect((pollTimes[1] ?? 0) - (pollTimes[0] ?? 0)).toBeGreaterThanOrEqual(95);
    } finally {
      await scripted.stop();
    }
  });

  it("login - should fail on another OAuth error without showing the device code", async () => {
    const { scripted, target: scriptedTarget } = await scriptedDeviceServer([
      [400, { error: "invalid_client", error_description: `bad client for ${DEVICE_CODE}` }],
    ]);
    try {
      const error = await failureOf(
        login({ target: scriptedTarget, intervalSeconds: 0.01, onPrompt: () => undefined }),
      );
      expect(error).toMatchObject({ _tag: "LoginFailed", reason: "token_error", error: "invalid_client" });
      expect(error.message).not.toContain(DEVICE_CODE);
    } finally {
      await scripted.stop();
    }
  });
});
