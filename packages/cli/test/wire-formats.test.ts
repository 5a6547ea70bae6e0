/** The pure parts of the wire formats: git's request lines, kubectl's API versions, and the announced expiry. */
import { describe, expect, it } from "vitest";
import { execApiVersion } from "../src/wire/exec-credential.ts";
import { formatGitAnswer, parseGitRequest, wantsAuthtype } from "../src/wire/git-credential.ts";
import { handOutExpiry, rfc3339 } from "../src/wire/hand-out.ts";

describe("git credential lines", () => {
  it("parseGitRequest - should read key=value lines up to the blank line, collecting repeated [] keys", () => {
    const request = parseGitRequest(
      "capability[]=authtype\ncapability[]=state\nprotocol=https\r\nhost=example.org:8443\nnonsense\n\nhost=after-the-end\n",
    );
    expect(request.fields.get("protocol")).toBe("https");
    expect(request.fields.get("host")).toBe("example.org:8443");
    expect(request.lists.get("capability[]")).toEqual(["authtype", "state"]);
    expect(wantsAuthtype(request)).toBe(true);
    expect(wantsAuthtype(parseGitRequest("protocol=https\n"))).toBe(false);
  });

  it("formatGitAnswer - should refuse a value with a line break rather than let git misread it", () => {
    expect(() => formatGitAnswer({ username: "u", token: "a\nb", expiresAt: 0 }, false)).toThrow(/line break/);
    expect(formatGitAnswer({ username: "u", token: "t", expiresAt: 1_999_999_999_999 }, false)).toBe(
      "username=u\npassword=t\npassword_expiry_utc=1999999999\n",
    );
  });
});

describe("execApiVersion", () => {
  it("execApiVersion - should answer v1 without KUBERNETES_EXEC_INFO, echo v1beta1, and refuse others clearly", () => {
    expect(execApiVersion(undefined)).toBe("client.authentication.k8s.io/v1");
    expect(execApiVersion('{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential"}')).toBe(
      "client.authentication.k8s.io/v1beta1",
    );
    expect(execApiVersion("{")).toEqual({ problem: "KUBERNETES_EXEC_INFO is not JSON" });
    expect(execApiVersion('{"kind":"ExecCredential"}')).toEqual({
      problem: "KUBERNETES_EXEC_INFO: apiVersion is missing",
    });
    expect(execApiVersion('{"apiVersion":"client.authentication.k8s.io/v1alpha1"}')).toMatchObject({
      problem: expect.stringContaining('"client.authentication.k8s.io/v1alpha1" is not supported'),
    });
  });
});

describe("handOutExpiry", () => {
  const hour = { obtainedAt: 0, expiresAt: 3_600_000 };
  it("handOutExpiry - should subtract a skew margin of at most a minute, a tenth of short lifetimes", () => {
    expect(handOutExpiry(hour, false)).toBe(3_540_000);
    expect(handOutExpiry({ obtainedAt: 0, expiresAt: 6_000 }, false)).toBe(5_400);
  });

  it("handOutExpiry - should announce baton's own refresh point when a refresh revokes the old access token", () => {
    expect(handOutExpiry(hour, true)).toBe(3_600_000 - 300_000);
    expect(handOutExpiry({ obtainedAt: 0, expiresAt: 600_000 }, true)).toBe(450_000);
  });

  it("rfc3339 - should print UTC with whole seconds, rounded down", () => {
    expect(rfc3339(Date.UTC(2026, 11, 4, 18, 43, 0, 999))).toBe("2026-12-04T18:43:00Z");
  });
});
