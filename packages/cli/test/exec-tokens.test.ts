/** `baton exec`'s argument plan (which variable gets which account's token, and the command) and durations. */
import { InvalidInput } from "@baton/core";
import { describe, expect, it } from "vitest";
import { parseDuration, planExec } from "../src/exec-tokens.ts";

describe("planExec", () => {
  it("planExec - should give REF's token to BATON_ACCESS_TOKEN, or to the one bare --env NAME", () => {
    expect(planExec([], ["gh:work", "gh", "api"])).toEqual({
      assignments: [{ variable: "BATON_ACCESS_TOKEN", ref: "gh:work" }],
      command: ["gh", "api"],
    });
    expect(planExec(["GH_TOKEN"], ["gh:work", "gh"])).toEqual({
      assignments: [{ variable: "GH_TOKEN", ref: "gh:work" }],
      command: ["gh"],
    });
  });

  it("planExec - should take no REF when every --env is NAME=REF, and mix REF with pairs", () => {
    expect(planExec(["GH_TOKEN=gh:work", "CLAUDE_CODE_OAUTH_TOKEN=claude"], ["./agent.sh", "-v"])).toEqual({
      assignments: [
        { variable: "GH_TOKEN", ref: "gh:work" },
        { variable: "CLAUDE_CODE_OAUTH_TOKEN", ref: "claude" },
      ],
      command: ["./agent.sh", "-v"],
    });
    expect(planExec(["A", "B=other:x"], ["gh:work", "cmd"])).toEqual({
      assignments: [
        { variable: "A", ref: "gh:work" },
        { variable: "B", ref: "other:x" },
      ],
      command: ["cmd"],
    });
  });

  it("planExec - should refuse bad names, two bare names, a variable twice, no account and no command", () => {
    const problems = [
      planExec(["1X=a"], ["cmd"]),
      planExec(["A", "B"], ["ref", "cmd"]),
      planExec(["A=a", "A=b"], ["cmd"]),
      planExec(["A="], ["cmd"]),
      planExec([], []),
      planExec(["A=a"], []),
      planExec([], ["ref"]),
    ];
    for (const problem of problems) expect(problem).toBeInstanceOf(InvalidInput);
    expect((problems[2] as InvalidInput).message).toContain("A is given twice");
  });
});

describe("parseDuration", () => {
  it("parseDuration - should read compact durations and whole seconds", () => {
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("15m")).toBe(900_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("2d")).toBe(172_800_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("120")).toBe(120_000);
  });

  it("parseDuration - should refuse anything else", () => {
    for (const text of ["", "1.5h", "h", "10 m", "-5s", "1y", "1h 30m"])
      expect(parseDuration(text), text).toBeUndefined();
  });
});
