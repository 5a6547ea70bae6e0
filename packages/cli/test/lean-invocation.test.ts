/** Which command lines run on the lean entry (without effect/cli), and what they mean there. */
import { describe, expect, it } from "vitest";
import { leanInvocation } from "../src/lean-invocation.ts";

describe("leanInvocation", () => {
  it("leanInvocation - should read `token REF` as the token command for REF", () => {
    expect(leanInvocation(["token", "demo:you"])).toEqual({ command: "token", ref: "demo:you" });
    expect(leanInvocation(["token", "demo"])).toEqual({ command: "token", ref: "demo" });
  });

  it("leanInvocation - should read `status`, `status REF`, `--json` before or after, as effect/cli does", () => {
    expect(leanInvocation(["status"])).toEqual({ command: "status", ref: undefined, json: false });
    expect(leanInvocation(["status", "demo:you"])).toEqual({ command: "status", ref: "demo:you", json: false });
    expect(leanInvocation(["status", "--json"])).toEqual({ command: "status", ref: undefined, json: true });
    expect(leanInvocation(["status", "--json", "demo:you"])).toEqual({
      command: "status",
      ref: "demo:you",
      json: true,
    });
    expect(leanInvocation(["status", "demo:you", "--json"])).toEqual({
      command: "status",
      ref: "demo:you",
      json: true,
    });
  });

  it("leanInvocation - should leave every other command line to effect/cli", () => {
    const others = [
      [],
      ["token"],
      ["token", "--help"],
      ["token", "-h"],
      ["token", "demo:you", "--json"],
      ["token", "demo:you", "--log-level", "debug"],
      ["token", ""],
      ["token", "a", "b"],
      ["status", "--help"],
      ["status", "--bogus"],
      ["status", "--json", "--json"],
      ["status", "--json=true"],
      ["status", "a:b", "c:d"],
      ["status", ""],
      ["status", "demo:you", "--json", "--log-level", "debug"],
      ["refresh", "demo:you"],
      ["help", "token"],
      ["--version"],
    ];
    for (const args of others) expect(leanInvocation(args), JSON.stringify(args)).toBeUndefined();
  });
});
