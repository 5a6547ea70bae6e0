/**
 * Property suite of the refresh-grant adapter against a scripted loopback server that answers with generated
 * malformed, erroneous or broken answers (token-answers.ts): every case ends in the expected TokenSet or in a
 * `TokenEndpointFailure` with the expected reason and `processed` — never a defect — and no token-like string from
 * the answer, nor the presented refresh token, appears anywhere in the failure.
 */
import type { ServerResponse } from "node:http";
import { type RefreshRequest, TokenEndpointFailure } from "@baton/core";
import { Cause, Effect, Exit } from "effect";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OAuthTarget } from "../../src/oauth/client.ts";
import { refresh } from "../../src/oauth/token-endpoint.ts";
import { type ScriptedServer, startScripted } from "./helpers.ts";
import { type AnswerCase, answerCase, ECHO, REQUESTED_SCOPE, tokenLike } from "./token-answers.ts";

let current: AnswerCase | undefined;
let presented = "";
let scripted: ScriptedServer;
let target: OAuthTarget;

const serve = (response: ServerResponse): void => {
  const behaviour = current?.behaviour;
  if (behaviour === undefined) return;
  switch (behaviour._tag) {
    case "answer":
      response.writeHead(behaviour.status, behaviour.headers);
      response.end(behaviour.body.split(ECHO).join(presented));
      return;
    case "cut":
      response.writeHead(behaviour.status, {
        "content-type": "application/json",
        "content-length": String(behaviour.partialBody.length + 100),
      });
      response.write(behaviour.partialBody, () => response.socket?.destroy());
      return;
    case "reset-before-answer":
      response.socket?.destroy();
      return;
    case "hang":
      return;
  }
};

beforeAll(async () => {
  scripted = await startScripted((_request, response) => serve(response));
  target = {
    issuer: scripted.origin,
    clientId: "property-client",
    metadata: { token_endpoint: `${scripted.origin}/token` },
  };
});
afterAll(async () => {
  await scripted.stop();
});

const requestFor = (refreshToken: string): RefreshRequest => ({
  account: { provider: "prop", account: "a" },
  issuer: target.issuer,
  clientId: target.clientId,
  refreshToken,
  scope: REQUESTED_SCOPE,
});

const checkCase = async (testCase: AnswerCase, refreshToken: string): Promise<void> => {
  current = testCase;
  presented = refreshToken;
  const exit = await Effect.runPromiseExit(refresh(target, requestFor(refreshToken), { timeoutMs: 250 }));
  const { expected } = testCase;
  if (expected === undefined) {
    if (!Exit.isSuccess(exit)) throw new Error(`${testCase.label}: expected tokens, got ${Cause.pretty(exit.cause)}`);
    const body = testCase.body ?? {};
    const { clockSkewMs, ...tokens } = exit.value;
    expect(clockSkewMs === undefined || Number.isFinite(clockSkewMs)).toBe(true);
    expect(tokens).toEqual({
      accessToken: body.access_token,
      refreshToken: body.refresh_token,
      tokenType: "Bearer",
      expiresIn: body.expires_in,
      scope: body.scope,
    });
    return;
  }
  if (expected === "salvaged" || expected === "salvaged-or-malformed") {
    if (Exit.isSuccess(exit)) {
      const tokens = exit.value;
      const body = testCase.body ?? {};
      expect(tokens.refreshToken, testCase.label).toBe(body.refresh_token);
      expect(tokens.withheld !== undefined || (tokens.problems?.length ?? 0) > 0, `${testCase.label}: flagged`).toBe(
        true,
      );
      const said = JSON.stringify([tokens.withheld, tokens.problems]);
      for (const secret of [refreshToken, ...testCase.secrets]) expect(said).not.toContain(secret);
      return;
    }
    if (expected === "salvaged")
      throw new Error(`${testCase.label}: the rotation was lost: ${Cause.pretty(exit.cause)}`);
    expect(exit.cause.reasons.find(Cause.isFailReason)?.error).toMatchObject({
      reason: "malformed_response",
      processed: "unknown",
    });
    return;
  }
  if (Exit.isSuccess(exit)) throw new Error(`${testCase.label}: expected a failure, got tokens`);
  const reasons = exit.cause.reasons;
  const fail = reasons.find(Cause.isFailReason);
  if (fail === undefined || reasons.length !== 1)
    throw new Error(`${testCase.label}: not a plain failure: ${Cause.pretty(exit.cause)}`);
  const error = fail.error;
  expect(error).toBeInstanceOf(TokenEndpointFailure);
  expect({ label: testCase.label, reason: error.reason, processed: error.processed }).toEqual({
    label: testCase.label,
    reason: expected.reason,
    processed: expected.processed,
  });
  if (expected.status !== undefined) expect(error.status).toBe(expected.status);
  if (expected.retryAfterMs === "date") {
    expect(error.retryAfterMs).toBeGreaterThanOrEqual(0);
    expect(error.retryAfterMs).toBeLessThanOrEqual(3_601_000);
  } else if (expected.retryAfterMs !== undefined) {
    expect(error.retryAfterMs).toBe(expected.retryAfterMs);
  } else if (expected.reason === "rate_limited") {
    expect(error.retryAfterMs).toBeUndefined();
  }
  const shown = JSON.stringify({ ...error, message: error.message });
  for (const secret of [refreshToken, ...testCase.secrets]) expect(shown).not.toContain(secret);
};

describe("token endpoint answers (property)", () => {
  it("refresh - should classify every generated answer, never as a defect, never quoting a token", async () => {
    await fc.assert(
      fc.asyncProperty(answerCase, tokenLike, async (testCase, refreshToken) => {
        await checkCase(testCase, refreshToken);
      }),
      { numRuns: 400 },
    );
  }, 120_000);

  it("refresh - should classify an answer larger than the limit as malformed, in doubt", async () => {
    const huge = JSON.stringify({ access_token: "x".repeat(2 * 1024 * 1024), token_type: "Bearer" });
    await checkCase(
      {
        label: "huge",
        behaviour: { _tag: "answer", status: 200, headers: { "content-type": "application/json" }, body: huge },
        expected: { reason: "malformed_response", processed: "unknown" },
        secrets: ["x".repeat(64)],
      },
      "refresh-token-for-the-huge-case-0123456789",
    );
  });

  it("refresh - should classify a refused connection as network, not processed", async () => {
    const closed = await startScripted(() => undefined);
    await closed.stop();
    const exit = await Effect.runPromiseExit(
      refresh(
        { ...target, metadata: { token_endpoint: `${closed.origin}/token` } },
        requestFor("rt-closed-port-0123456789abcdef"),
      ),
    );
    expect(Exit.isFailure(exit) && exit.cause.reasons.find(Cause.isFailReason)?.error).toMatchObject({
      reason: "network",
      processed: "no",
    });
  });

  it("refresh - should accept a 200 without refresh_token (the core keeps the old one)", async () => {
    const body = { access_token: "access-token-without-rotation", token_type: "Bearer", expires_in: 300 };
    await checkCase(
      {
        label: "no rotation",
        behaviour: {
          _tag: "answer",
          status: 200,
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        },
        expected: undefined,
        body,
        secrets: [],
      },
      "rt-no-rotation-0123456789abcdef0123",
    );
  });
});
