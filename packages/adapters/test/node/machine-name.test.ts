/**
 * Tests of the machine's name (node/host-identity.ts): BATON_MACHINE_ID as given, refused when it is no name, and
 * the name on a shared store — the host name with the first 8 hex digits of this machine's id when it has one.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { InvalidInput } from "@baton/core";
import { describe, expect, it } from "vitest";
import * as NodeHostIdentity from "../../src/node/host-identity.ts";

describe("machine name", () => {
  it("machineNameFromEnvironment - should take BATON_MACHINE_ID as the name, and nothing when it is unset", () => {
    expect(NodeHostIdentity.machineNameFromEnvironment({ BATON_MACHINE_ID: "build-3" })).toBe("build-3");
    expect(NodeHostIdentity.machineNameFromEnvironment({ BATON_MACHINE_ID: "ci/runner-12.eu" })).toBe(
      "ci/runner-12.eu",
    );
    expect(NodeHostIdentity.machineNameFromEnvironment({})).toBeUndefined();
    expect(NodeHostIdentity.machineNameFromEnvironment({ BATON_MACHINE_ID: "" })).toBeUndefined();
  });

  it("machineNameFromEnvironment - should refuse a value that is no name, saying what a name is", () => {
    for (const value of ["-lead", "with space", "x".repeat(65), "tab\there", "ünïcode"]) {
      const found = NodeHostIdentity.machineNameFromEnvironment({ BATON_MACHINE_ID: value });
      expect(found).toBeInstanceOf(InvalidInput);
      expect((found as InvalidInput).message).toContain("BATON_MACHINE_ID must be 1-64");
    }
  });

  it("sharedMachineName - should be the host name with the first 8 hex digits of the machine id", () => {
    const id = (() => {
      try {
        return readFileSync("/etc/machine-id", "latin1").trim().slice(0, 8);
      } catch {
        return undefined;
      }
    })();
    const name = NodeHostIdentity.sharedMachineName();
    if (id !== undefined && /^[0-9a-f]{8}$/.test(id)) expect(name).toBe(`${hostname()}/${id}`);
    else expect(name.startsWith(hostname())).toBe(true);
  });
});
