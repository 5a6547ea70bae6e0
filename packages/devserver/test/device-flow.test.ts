/**
 * Tests of the device authorization grant (RFC 8628) on the local authorization server, with the headless user
 * entering the user code on the verification page the way a person at a browser would.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type AuthorizationServer,
  approveDeviceCode,
  denyDeviceCode,
  HeadlessUserError,
  isTokenActive,
  startAuthorizationServer,
} from "../src/index.ts";
import { pollDeviceCode, postForm, stringField, tokensFrom } from "./oauth-test-client.ts";

let server: AuthorizationServer;

beforeAll(async () => {
  server = await startAuthorizationServer({ deviceInterval: 2 });
});

afterAll(async () => {
  await server.stop();
});

beforeEach(() => {
  server.resetCounters();
});

async function startDeviceAuthorization(): Promise<{
  deviceCode: string;
  userCode: string;
  body: Record<string, unknown>;
}> {
  const response = await postForm(`${server.issuer}/device/auth`, { client_id: server.clientId, scope: server.scopes });
  expect(response.status).toBe(200);
  return {
    deviceCode: stringField(response.body, "device_code"),
    userCode: stringField(response.body, "user_code"),
    body: response.body,
  };
}

describe("device flow", () => {
  it("device authorization - should advertise the configured polling interval and the verification page", async () => {
    const { body } = await startDeviceAuthorization();
    expect(body).toMatchObject({ interval: 2, verification_uri: `${server.issuer}/device`, expires_in: 600 });
    expect(body.verification_uri_complete).toEqual(expect.stringContaining(`${server.issuer}/device?user_code=`));
  });

  it("device flow - should issue tokens after the headless user approves the code", async () => {
    const { deviceCode, userCode } = await startDeviceAuthorization();
    const pending = await pollDeviceCode(server, deviceCode);
    expect(pending.status).toBe(400);
    expect(pending.body.error).toBe("authorization_pending");

    await approveDeviceCode(server, userCode);
    const tokens = tokensFrom(await pollDeviceCode(server, deviceCode));
    expect(await isTokenActive(server, tokens.accessToken)).toBe(true);
    expect(server.counters()).toMatchObject({ deviceApprovals: 1, tokenRequests: 2, reuseErrors: 0 });

    const again = await pollDeviceCode(server, deviceCode);
    expect(again.body.error).toBe("invalid_grant");
  });

  it("device flow - should answer access_denied after the headless user denies the code", async () => {
    const { deviceCode, userCode } = await startDeviceAuthorization();
    await denyDeviceCode(server, userCode);
    const denied = await pollDeviceCode(server, deviceCode);
    expect(denied.status).toBe(400);
    expect(denied.body.error).toBe("access_denied");
    expect(server.counters().deviceApprovals).toBe(0);
  });

  it("approveDeviceCode - should reject a user code the server never issued", async () => {
    await expect(approveDeviceCode(server, "BCDF-GHJK")).rejects.toThrow(HeadlessUserError);
    await expect(approveDeviceCode(server, "BCDF-GHJK")).rejects.toThrow(/code you entered is incorrect/);
  });

  it("approveDeviceCode - should reject a user code that was already approved", async () => {
    const { userCode } = await startDeviceAuthorization();
    await approveDeviceCode(server, userCode);
    await expect(approveDeviceCode(server, userCode)).rejects.toThrow(/already been used/);
  });
});
