/** The human output helpers: aligned tables whose cells may be coloured. */
import { stripVTControlCharacters } from "node:util";
import { describe, expect, it } from "vitest";
import { absoluteTime, paint, table, visibleWidth } from "../src/format.ts";

/** The lines of `text` as a terminal shows them (without colour codes). */
const shown = (text: string): ReadonlyArray<string> => stripVTControlCharacters(text).split("\n");

describe("table", () => {
  it("table - should align columns on visible characters when cells carry colour codes", () => {
    const text = table(
      ["ACCOUNT", "STATE", "GEN"],
      [
        ["demo:you", paint(true, "green", "valid"), "1"],
        ["demo:other", paint(true, "red", "revoked"), "12"],
        ["demo:x", "expired", "3"],
      ],
    );
    const [header = "", ...rows] = shown(text);
    const stateColumn = header.indexOf("STATE");
    const genColumn = header.indexOf("GEN");
    expect(genColumn).toBeGreaterThan(stateColumn);
    expect(rows.map((row) => row.search(/valid|revoked|expired/))).toEqual([stateColumn, stateColumn, stateColumn]);
    expect(rows.map((row) => row.search(/\d+$/))).toEqual([genColumn, genColumn, genColumn]);
  });

  it("table - should keep the colour codes of a cell intact", () => {
    const text = table(["STATE"], [[paint(true, "yellow", "expiring")]]);
    expect(text).toContain("\u001b[33mexpiring\u001b[0m");
  });

  it("table - should not pad the last column or leave trailing spaces", () => {
    const text = table(["A", "B"], [[paint(true, "red", "x"), ""]]);
    for (const line of text.split("\n")) expect(line).toBe(line.trimEnd());
  });
});

describe("visibleWidth", () => {
  it("visibleWidth - should count what a terminal shows, not escape sequences", () => {
    expect(visibleWidth("valid")).toBe(5);
    expect(visibleWidth(paint(true, "green", "valid"))).toBe(5);
    expect(visibleWidth(paint(false, "green", "valid"))).toBe(5);
    expect(visibleWidth("")).toBe(0);
  });
});

describe("absoluteTime", () => {
  it("absoluteTime - should print ISO 8601 in UTC without zero milliseconds", () => {
    expect(absoluteTime(Date.UTC(2026, 11, 4, 18, 0, 0))).toBe("2026-12-04T18:00:00Z");
  });

  it("absoluteTime - given a time no date can hold, should say so instead of throwing", () => {
    expect(absoluteTime(1e303)).toBe("(out of range)");
    expect(absoluteTime(Number.NaN)).toBe("(out of range)");
  });
});
