/**
 * `replay --trace` (replay/trace.ts): Chrome Trace Event JSON the viewers accept (support/trace-check.ts) — a lane
 * (thread) per process named by its pid inside a process per machine, nested slices, a flow from the commit to each
 * adopter, a generation counter and anomalies as instants — and the checker itself catches a broken trace.
 */
import { describe, expect, it } from "vitest";
import { buildPicture } from "../src/replay/picture.ts";
import { renderTrace, type TraceEvent } from "../src/replay/trace.ts";
import { HistoryBuilder, HOST, herdHistory, T0 } from "./support/herd-history.ts";
import { traceProblems } from "./support/trace-check.ts";

const phase = (events: ReadonlyArray<TraceEvent>, ph: string) => events.filter((e) => e.ph === ph);

describe("replay trace", () => {
  it("renderTrace - given a herd of 8, should write a valid trace with a named lane per process, an arrow to each adopter and a generation counter", () => {
    const trace = renderTrace([buildPicture(herdHistory(8).input())]);

    expect(traceProblems(trace)).toEqual([]);
    const events = trace.traceEvents;
    const threads = events.filter((e) => e.name === "thread_name").map((e) => (e.args as { name: string }).name);
    expect(threads).toHaveLength(9);
    expect(threads).toContain("pid 200 · refreshed g2");
    const processes = events.filter((e) => e.name === "process_name").map((e) => (e.args as { name: string }).name);
    expect(processes).toEqual(["demo:you (account)", `demo:you on ${HOST}`]);
    expect(phase(events, "s")).toHaveLength(7);
    expect(phase(events, "f")).toHaveLength(7);
    expect(phase(events, "C").map((e) => e.args)).toEqual([{ generation: 1 }, { generation: 2 }]);
    const holder = phase(events, "X").filter((e) => e.tid === 200);
    expect(holder.map((e) => [e.cat, e.ts, e.dur])).toEqual([
      ["flight", 10_000_000, 118_000],
      ["claim", 10_000_000, 12_000],
      ["request", 10_012_000, 100_000],
      ["commit", 10_112_000, 3_000],
    ]);
    expect(JSON.stringify(trace)).not.toMatch(/"ts":-/);
    expect(trace.otherData.origin).toBe(new Date(T0).toISOString());
  });

  it("renderTrace - given anomalies and a slice from events alone overlapping a flight, should keep slices nested and flag the anomalies", () => {
    // Pid 201 claims (again) just before its flight note begins: its request, drawn from events, overlaps the flight.
    const history = herdHistory(3)
      .event({ type: "refresh.claimed", at: T0 + 9_990, pid: 201, generation: 1, attempt: 1, refreshFp: "11111111" })
      .event({
        type: "credentials.stored",
        at: T0 + 10_050,
        pid: 201,
        generation: 2,
        source: "refresh",
        accessFp: "dddddddd",
        refreshFp: "33333333",
        expiresAt: T0 + 20_000,
      });
    const picture = buildPicture(history.input());
    expect(picture.anomalies.map((a) => a.kind)).toContain("double-presentation");
    const trace = renderTrace([picture]);

    expect(traceProblems(trace)).toEqual([]);
    const lane = phase(trace.traceEvents, "X").filter((e) => e.tid === 201);
    expect(lane.map((e) => [e.cat, e.ts, e.dur])).toEqual([
      ["request", 9_990_000, 11_000],
      ["flight", 10_001_000, 116_000],
      ["wait", 10_004_000, 110_000],
      ["adopt", 10_114_000, 3_000],
    ]);
    const anomalies = phase(trace.traceEvents, "i").filter((e) => e.cat === "anomaly");
    expect(anomalies.map((e) => e.name)).toContain("anomaly: double-presentation");
  });

  it("traceProblems - should catch slices overlapping in part, flows without an end and unnamed lanes", () => {
    const broken = {
      traceEvents: [
        { ph: "M", name: "process_name", pid: 1, tid: 0, args: { name: "m" } },
        { ph: "X", name: "a", pid: 1, tid: 7, ts: 0, dur: 10 },
        { ph: "X", name: "b", pid: 1, tid: 7, ts: 5, dur: 10 },
        { ph: "s", name: "arrow", cat: "adoption", id: 1, pid: 1, tid: 7, ts: 1 },
      ],
    };
    expect(traceProblems(broken)).toEqual([
      "thread 1/7 has no thread_name",
      'thread 1/7: "b" overlaps "a" in part',
      "flow 1 has no end",
    ]);
    expect(traceProblems(new HistoryBuilder())).toEqual(["no traceEvents array"]);
  });
});
