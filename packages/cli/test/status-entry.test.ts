/** Which `baton status` invocations the lean entry runs, and which go to the full CLI. */
import { describe, expect, it } from "vitest";
import { simpleStatusArgs } from "../src/status-entry.ts";

describe("simpleStatusArgs", () => {
  it("simpleStatusArgs - should take no arguments, a REF, --json, or both in either order", () => {
    expect(simpleStatusArgs([])).toEqual({ ref: undefined, json: false });
    expect(simpleStatusArgs(["demo:you"])).toEqual({ ref: "demo:you", json: false });
    expect(simpleStatusArgs(["--json"])).toEqual({ ref: undefined, json: true });
    expect(simpleStatusArgs(["--json", "demo:you"])).toEqual({ ref: "demo:you", json: true });
    expect(simpleStatusArgs(["demo:you", "--json"])).toEqual({ ref: "demo:you", json: true });
  });

  it("simpleStatusArgs - should leave anything else to the full CLI (help, unknown flags, repeats, two refs)", () => {
    for (const args of [["--help"], ["-h"], ["--bogus"], ["--json", "--json"], ["a:b", "c:d"], ["--json=true"], [""]]) {
      expect(simpleStatusArgs(args), JSON.stringify(args)).toBeUndefined();
    }
  });
});
