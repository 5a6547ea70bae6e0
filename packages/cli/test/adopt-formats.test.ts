/** Reading other tools' login files: JWT expiries (Codex), gh's hosts.yml, and the fields each reader requires. */
import { describe, expect, it } from "vitest";
import { ghHosts, jwtExpiry, readAdopted } from "../src/adopt-formats.ts";

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
/** A JWT-shaped string made here (unsigned, not a credential). */
const jwt = (claims: unknown) => `${base64url({ alg: "none" })}.${base64url(claims)}.signature`;

describe("jwtExpiry", () => {
  it("jwtExpiry - should read a numeric exp claim, and nothing from opaque or malformed tokens", () => {
    expect(jwtExpiry(jwt({ exp: 1_900_000_000, sub: "x" }))).toBe(1_900_000_000);
    expect(jwtExpiry(jwt({ sub: "x" }))).toBeUndefined();
    expect(jwtExpiry(jwt({ exp: "soon" }))).toBeUndefined();
    expect(jwtExpiry("opaque-token")).toBeUndefined();
    expect(jwtExpiry("a.%%%.c")).toBeUndefined();
  });

  it("codex - should take the expiry from the access token's exp, else treat it as due now", () => {
    const now = 1_800_000_000_000;
    const withExp = readAdopted(
      "codex",
      "",
      { tokens: { access_token: jwt({ exp: 1_800_000_600 }), refresh_token: "r" } },
      now,
    );
    expect(withExp).toMatchObject({ ok: { expires_at: 1_800_000_600_000 } });
    const opaque = readAdopted("codex", "", { tokens: { access_token: "opaque", refresh_token: "r" } }, now);
    expect(opaque).toMatchObject({ ok: { expires_at: now } });
    expect(readAdopted("codex", "", { OPENAI_API_KEY: "k" }, now)).toEqual({
      problem: "tokens: is required (an object; this auth.json holds no ChatGPT login)",
    });
  });
});

describe("ghHosts", () => {
  it("ghHosts - should read each host's own oauth_token, not the ones under users:", () => {
    const text = [
      "github.com:",
      "    users:",
      "        octocat:",
      "            oauth_token: nested",
      "    git_protocol: https",
      '    oauth_token: "top-level"',
      "    user: octocat",
      "ghe.example:",
      "    user: me",
      "",
    ].join("\n");
    const hosts = ghHosts(text);
    expect([...hosts.entries()]).toEqual([
      ["github.com", "top-level"],
      ["ghe.example", undefined],
    ]);
  });

  it("gh - should explain a host whose token lives in the keyring, and a file with several other hosts", () => {
    expect(readAdopted("gh", "github.com:\n    user: me\n", undefined, 0)).toMatchObject({
      problem: expect.stringContaining("gh keeps this login in the system keyring"),
    });
    expect(readAdopted("gh", "a.example:\n    user: x\nb.example:\n    user: y\n", undefined, 0)).toMatchObject({
      problem: expect.stringContaining("several hosts (a.example, b.example)"),
    });
  });
});

describe("claude-code and gemini", () => {
  it("should map the tool's fields to the token JSON, and name a wrong field by its path in the tool's file", () => {
    expect(
      readAdopted(
        "claude-code",
        "",
        { claudeAiOauth: { accessToken: "a", refreshToken: "r", expiresAt: 5, scopes: ["x", "y"] } },
        0,
      ),
    ).toEqual({ ok: { access_token: "a", refresh_token: "r", expires_at: 5, token_type: "Bearer", scope: "x y" } });
    expect(readAdopted("claude-code", "", { claudeAiOauth: { accessToken: "a", expiresAt: "5" } }, 0)).toEqual({
      problem: "claudeAiOauth.expiresAt: expected milliseconds",
    });
    expect(readAdopted("gemini", "", { access_token: "a", expiry_date: 7, scope: "s" }, 0)).toEqual({
      ok: { access_token: "a", expires_at: 7, token_type: "Bearer", scope: "s" },
    });
    expect(readAdopted("gemini", "", { access_token: "a" }, 0)).toEqual({
      problem: "expiry_date: expected milliseconds since the epoch",
    });
  });
});
