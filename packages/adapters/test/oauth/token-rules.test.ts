/** The token rules shared by token endpoint answers and `baton import`. */
import type * as oauth from "oauth4webapi";
import { describe, expect, it } from "vitest";
import { toTokenSet } from "../../src/oauth/token-response.ts";
import { checkExpiresAt, checkTokens, MAX_EXPIRES_IN_SECONDS } from "../../src/oauth/token-rules.ts";

const valid = { accessToken: "at-1234", refreshToken: "rt-1234", tokenType: "Bearer", expiresIn: 3600 };
const NOW = Date.UTC(2026, 0, 1);

const refused: ReadonlyArray<readonly [string, Partial<typeof valid>, string]> = [
  ["a NUL byte in the access token", { accessToken: "a\u0000b" }, "access_token"],
  ["a space in the access token", { accessToken: "a b" }, "access_token"],
  ["non-ASCII in the access token", { accessToken: "café" }, "access_token"],
  ["a newline in the refresh token", { refreshToken: "r\nx" }, "refresh_token"],
  ["an empty access token", { accessToken: "" }, "access_token"],
  ["a DPoP token type", { tokenType: "DPoP" }, "token_type"],
  ["expires_in 1e300", { expiresIn: 1e300 }, "expires_in"],
  ["expires_in beyond ten years", { expiresIn: MAX_EXPIRES_IN_SECONDS + 1 }, "expires_in"],
  ["a negative expires_in", { expiresIn: -1 }, "expires_in"],
  ["a NaN expires_in", { expiresIn: Number.NaN }, "expires_in"],
];

describe("checkTokens", () => {
  it("checkTokens - should accept visible ASCII Bearer tokens in any case with a lifetime up to ten years", () => {
    expect(checkTokens(valid)).toBeUndefined();
    expect(
      checkTokens({ ...valid, tokenType: "bearer", refreshToken: undefined, expiresIn: undefined }),
    ).toBeUndefined();
    expect(checkTokens({ ...valid, expiresIn: MAX_EXPIRES_IN_SECONDS })).toBeUndefined();
  });

  it.each(refused)("checkTokens - should refuse %s, naming the field and never the value", (_, change, field) => {
    const problem = checkTokens({ ...valid, ...change });
    expect(problem?.field).toBe(field);
    for (const value of Object.values(change)) {
      if (typeof value === "string" && value.length > 0) expect(problem?.problem).not.toContain(value);
    }
  });

  it.each(refused)("toTokenSet - should refuse a server answer with %s by the same rule", (_, change, field) => {
    const tokens = { ...valid, ...change };
    const answer = {
      access_token: tokens.accessToken,
      refresh_token: tokens.refreshToken,
      token_type: tokens.tokenType.toLowerCase(),
      expires_in: tokens.expiresIn,
    } as oauth.TokenEndpointResponse;
    const result = toTokenSet(answer);
    expect(typeof result).toBe("string");
    expect(result).toMatch(new RegExp(`^${field} `));
  });
});

describe("checkExpiresAt", () => {
  it("checkExpiresAt - should accept an expiry in the past or up to ten years ahead", () => {
    expect(checkExpiresAt(NOW - 60_000, NOW)).toBeUndefined();
    expect(checkExpiresAt(NOW + MAX_EXPIRES_IN_SECONDS * 1000, NOW)).toBeUndefined();
  });

  it.each([
    ["1e300", 1e300, "out of range"],
    ["eleven years ahead", NOW + (MAX_EXPIRES_IN_SECONDS + 365 * 86_400) * 1000, "out of range"],
    ["seconds instead of milliseconds", NOW / 1000, "looks like seconds"],
    ["zero", 0, "positive number"],
    ["infinity", Number.POSITIVE_INFINITY, "positive number"],
  ])("checkExpiresAt - should refuse %s", (_, expiresAt, words) => {
    const problem = checkExpiresAt(expiresAt, NOW);
    expect(problem?.field).toBe("expires_at");
    expect(problem?.problem).toContain(words);
  });
});
