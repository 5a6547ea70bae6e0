/**
 * The picture `replay --trace` / `--html` draw (replay/picture.ts): one lane per process, the holder's flight as
 * claim → request → commit, the followers' waits and adoptions with an arrow from the commit to each of them, and what
 * a process that left no note did, drawn from its events (a request found in doubt, a lock wait).
 */
import { describe, expect, it } from "vitest";
import { splitEpisodes } from "../src/replay/episodes.ts";
import { buildPicture, laneKey } from "../src/replay/picture.ts";
import { HistoryBuilder, HOLDER_PID, HOST, herdHistory, T0 } from "./support/herd-history.ts";

describe("replay picture", () => {
  it("buildPicture - given a herd of 8, should give one lane per process with the holder's phases in order and an arrow to each adopter", () => {
    const picture = buildPicture(herdHistory(8).input());

    expect(picture.lanes.map((l) => l.pid)).toEqual([100, 200, 201, 202, 203, 204, 205, 206, 207]);
    expect(picture.lanes.find((l) => l.pid === HOLDER_PID)?.role).toBe("refreshed g2");
    expect(picture.lanes.find((l) => l.pid === 203)?.role).toBe("adopted g2");
    const holder = laneKey(HOST, HOLDER_PID);
    const phases = picture.slices.filter((s) => s.lane === holder && s.depth === 1);
    expect(phases.map((s) => s.kind)).toEqual(["claim", "request", "commit"]);
    expect(phases.map((s) => [s.from - T0 - 10_000, s.to - T0 - 10_000])).toEqual([
      [0, 12],
      [12, 112],
      [112, 115],
    ]);
    expect(picture.flows).toHaveLength(7);
    expect(new Set(picture.flows.map((f) => `${f.from.lane}@${f.from.at - T0}`))).toEqual(new Set([`${holder}@10112`]));
    const adopter = picture.slices.filter((s) => s.lane === laneKey(HOST, 203)).map((s) => s.kind);
    expect(adopter).toEqual(["flight", "wait", "adopt"]);
    expect(picture.generations.map((g) => g.generation)).toEqual([1, 2]);
    expect(picture.summary).toMatchObject({ processes: 9, machines: 1, refreshed: 1, adopted: 7, gaveUp: 0 });
  });

  it("buildPicture - given a holder killed after sending, should draw its request with an unknown outcome up to the process that found it in doubt", () => {
    const history = new HistoryBuilder()
      .event({
        type: "credentials.stored",
        at: T0,
        pid: 100,
        generation: 1,
        source: "login",
        accessFp: "aaaaaaaa",
        refreshFp: "11111111",
        expiresAt: T0 + 6_000,
      })
      .event({ type: "refresh.claimed", at: T0 + 7_000, pid: 300, generation: 1, attempt: 1, refreshFp: "11111111" })
      .event({
        type: "refresh.in-doubt",
        at: T0 + 9_000,
        pid: 301,
        generation: 1,
        attempt: 1,
        claimant: { host: HOST, pid: 300, at: T0 + 7_000 },
      })
      .flight({
        pid: 301,
        startedAt: T0 + 8_990,
        endedAt: T0 + 9_002,
        outcome: "gave-up",
        generation: 1,
        reason: "in-doubt",
      });
    const picture = buildPicture(history.input());

    const killed = picture.slices.filter((s) => s.lane === laneKey(HOST, 300));
    expect(killed).toMatchObject([{ kind: "unknown", from: T0 + 7_000, to: T0 + 9_000, failed: true }]);
    expect(picture.anomalies).toMatchObject([{ kind: "in-doubt", lane: laneKey(HOST, 301), at: T0 + 9_000 }]);
    expect(picture.instants.filter((i) => i.kind === "anomaly").map((i) => i.lane)).toEqual([laneKey(HOST, 301)]);
    expect(picture.slices.find((s) => s.lane === laneKey(HOST, 301) && s.kind === "flight")?.failed).toBe(true);
  });

  it("buildPicture - given a long-running process through three rotations, should name its lane by all its flights and each episode's label by that episode's", () => {
    const history = new HistoryBuilder();
    for (const [round, outcome] of (["adopted", "refreshed", "adopted"] as const).entries()) {
      history.flight({
        pid: 500,
        startedAt: T0 + round * 10_000,
        endedAt: T0 + round * 10_000 + 150,
        outcome,
        generation: round + 2,
      });
    }
    const picture = buildPicture(history.input());

    expect(picture.lanes.map((l) => l.role)).toEqual(["refreshed g3 · adopted 2×"]);
    const episodes = splitEpisodes(picture);
    expect(episodes.map((e) => e.roles.get(laneKey(HOST, 500)))).toEqual(["adopted g2", "refreshed g3", "adopted g4"]);
  });

  it("buildPicture - given a log without notes, should draw lock waits and requests from the events alone", () => {
    const history = new HistoryBuilder()
      .event({ type: "lock.waited", at: T0 + 500, pid: 401, waitedMs: 300 })
      .event({ type: "refresh.claimed", at: T0 + 100, pid: 400, generation: 4, attempt: 1 })
      .event({
        type: "credentials.stored",
        at: T0 + 400,
        pid: 400,
        generation: 5,
        source: "refresh",
        accessFp: "cccccccc",
        expiresAt: T0 + 60_000,
      });
    const picture = buildPicture(history.input());

    expect(picture.slices.map((s) => [s.lane, s.kind, s.from - T0, s.to - T0])).toEqual([
      [laneKey(HOST, 401), "wait", 200, 500],
      [laneKey(HOST, 400), "request", 100, 400],
    ]);
    expect(picture.flows).toEqual([]);
  });
});
