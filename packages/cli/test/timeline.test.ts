/**
 * The anomalies `baton replay` flags (#14): one refresh token presented or stored again, a generation jump a refresh
 * cannot explain, and records whose time goes backwards — each caught in a synthetic stream, and absent from a clean
 * one (a server that does not rotate legitimately carries one refresh token across generations).
 */
import type { AccountEvent } from "@baton/core";
import { describe, expect, it } from "vitest";
import { findAnomalies } from "../src/timeline.ts";

const T = 1_800_000_000_000;
let seq = 0;
const at = (offsetMs: number) => ({ v: 1 as const, seq: ++seq, at: T + offsetMs, host: "h", pid: 1 });
const stored = (
  generation: number,
  refreshFp: string,
  offsetMs: number,
  source: "login" | "refresh" | "import" = "refresh",
) =>
  ({
    ...at(offsetMs),
    type: "credentials.stored",
    generation,
    source,
    accessFp: "aaaaaaaa",
    refreshFp,
    expiresAt: T + offsetMs + 60_000,
  }) satisfies AccountEvent;
const claimed = (generation: number, attempt: number, refreshFp: string, offsetMs: number) =>
  ({ ...at(offsetMs), type: "refresh.claimed", generation, attempt, refreshFp }) satisfies AccountEvent;

const kinds = (events: ReadonlyArray<AccountEvent>) => findAnomalies(events).map((a) => a.kind);

describe("replay anomalies", () => {
  it("findAnomalies - should find nothing in a clean rotation history", () => {
    seq = 0;
    const events = [stored(1, "11111111", 0, "login"), claimed(1, 1, "11111111", 10), stored(2, "22222222", 20)];
    expect(kinds(events)).toEqual([]);
  });

  it("findAnomalies - should accept a refresh token carried over by a server that does not rotate", () => {
    seq = 0;
    const events = [
      stored(1, "11111111", 0, "login"),
      claimed(1, 1, "11111111", 10),
      stored(2, "11111111", 20),
      claimed(2, 1, "11111111", 30),
      stored(3, "11111111", 40),
    ];
    expect(kinds(events)).toEqual([]);
  });

  it("findAnomalies - should flag a refresh token presented again for a later generation (an old export imported)", () => {
    seq = 0;
    const events = [
      stored(1, "11111111", 0, "login"),
      claimed(1, 1, "11111111", 10),
      stored(2, "22222222", 20),
      stored(3, "11111111", 30, "import"),
      claimed(3, 1, "11111111", 40),
    ];
    expect(kinds(events)).toEqual(["refresh-reuse", "refresh-reuse"]);
  });

  it("findAnomalies - should flag a generation jump a refresh cannot explain", () => {
    seq = 0;
    const events = [stored(1, "11111111", 0, "login"), claimed(1, 1, "11111111", 10), stored(5, "22222222", 20)];
    expect(kinds(events)).toContain("generation-jump");
  });

  it("findAnomalies - should flag records whose time goes backwards by more than a second", () => {
    seq = 0;
    const events = [stored(1, "11111111", 0, "login"), claimed(1, 1, "11111111", -5_000), stored(2, "22222222", 10)];
    expect(kinds(events)).toContain("time-backwards");
    seq = 0;
    expect(kinds([stored(1, "11111111", 0, "login"), claimed(1, 1, "11111111", -200)])).toEqual([]);
  });
});
