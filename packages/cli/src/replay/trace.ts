/**
 * `baton replay --trace FILE`: the pictures (picture.ts) as Chrome Trace Event JSON, the format ui.perfetto.dev and
 * chrome://tracing open with no viewer of ours (`{ traceEvents: [...] }`, times in microseconds).
 *
 * Each machine of an account is a trace process ("demo:you on build-3") and each of its processes a thread named by
 * its pid, so the viewer shows one lane per process grouped by machine; an extra trace process per account carries
 * the generation counter (`C` events) and the account's summary. Slices are complete events (`X`) — a flight with its
 * phases nested inside —, events and anomalies are thread-scoped instants (`i`), and an arrow from each commit to
 * every process that adopted that generation is a flow (`s` → `f`, binding to the enclosing slices). Times are
 * relative to the earliest one; `otherData.origin` says when that was.
 */
import type { AccountPicture, Details, Slice } from "./picture.ts";

export type TraceEvent = Readonly<Record<string, unknown>>;
type TimedEvent = TraceEvent & { readonly ts: number };

export interface TraceFile {
  readonly traceEvents: ReadonlyArray<TraceEvent>;
  readonly displayTimeUnit: "ms";
  readonly otherData: Readonly<Record<string, string>>;
}

/** The viewer colour names (catapult's reserved palette, which Perfetto also reads) for each kind of slice. */
const COLOURS: Readonly<Record<Slice["kind"], string>> = {
  flight: "grey",
  wait: "yellow",
  claim: "rail_idle",
  request: "rail_response",
  commit: "good",
  adopt: "rail_load",
  serve: "light_memory_dump",
  "give-up": "bad",
  unknown: "terrible",
};

/**
 * Slices of one lane as the viewers need them: each inside or after another, never overlapping in part. Flights
 * (with their phases) come from notes and stay whole; a slice drawn from events alone (a log older than the notes, a
 * process that left none) keeps only its part outside the flights and the slices kept before it.
 */
const nested = (slices: ReadonlyArray<Slice>): Array<Slice> => {
  const result = slices.filter((s) => s.depth === 1 || s.kind === "flight");
  const occupied = result.filter((s) => s.kind === "flight").map((s) => ({ from: s.from, to: s.to }));
  const fromEvents = slices.filter((s) => s.depth === 0 && s.kind !== "flight").sort((a, b) => a.from - b.from);
  for (const slice of fromEvents) {
    let { from, to } = slice;
    for (const taken of [...occupied].sort((a, b) => a.from - b.from)) {
      if (taken.to <= from || taken.from >= to) continue;
      if (taken.from <= from) from = Math.min(taken.to, to);
      else to = taken.from;
    }
    if (to <= from) continue;
    result.push({ ...slice, from, to });
    occupied.push({ from, to });
  }
  return result;
};

const micros = (ms: number) => Math.round(ms * 1000);

export const renderTrace = (pictures: ReadonlyArray<AccountPicture>): TraceFile => {
  const nonEmpty = pictures.filter((p) => p.lanes.length > 0);
  const origin = nonEmpty.length === 0 ? 0 : Math.min(...nonEmpty.map((p) => p.from));
  const ts = (at: number) => micros(at - origin);
  const metadata: Array<TraceEvent> = [];
  const timed: Array<TimedEvent> = [];
  let nextPid = 1;
  let nextFlow = 1;
  for (const [accountIndex, picture] of pictures.entries()) {
    const accountPid = nextPid++;
    metadata.push(
      { ph: "M", name: "process_name", pid: accountPid, tid: 0, args: { name: `${picture.account} (account)` } },
      { ph: "M", name: "process_sort_index", pid: accountPid, tid: 0, args: { sort_index: accountIndex * 10_000 } },
      {
        ph: "M",
        name: "process_labels",
        pid: accountPid,
        tid: 0,
        args: {
          labels: `${picture.state}; ${picture.summary.refreshes} refreshes, ${picture.summary.processes} processes, ${picture.anomalies.length} anomalies`,
        },
      },
    );
    for (const change of picture.generations) {
      timed.push({
        ph: "C",
        name: "generation",
        cat: "generation",
        pid: accountPid,
        tid: 0,
        ts: ts(change.at),
        args: { generation: change.generation },
      });
    }
    for (const anomaly of picture.anomalies) {
      if (anomaly.lane !== undefined) continue;
      timed.push({
        ph: "i",
        s: "p",
        name: `anomaly: ${anomaly.kind}`,
        cat: "anomaly",
        pid: accountPid,
        tid: 0,
        ts: 0,
        cname: "terrible",
        args: { seq: anomaly.seq, what: anomaly.detail },
      });
    }

    // One trace process per machine, one thread per process (its pid), lanes in order of first activity.
    const machinePids = new Map<string, number>();
    const where = new Map<string, { readonly pid: number; readonly tid: number }>();
    for (const [laneIndex, lane] of picture.lanes.entries()) {
      let pid = machinePids.get(lane.host);
      if (pid === undefined) {
        pid = nextPid++;
        machinePids.set(lane.host, pid);
        metadata.push(
          { ph: "M", name: "process_name", pid, tid: 0, args: { name: `${picture.account} on ${lane.host}` } },
          {
            ph: "M",
            name: "process_sort_index",
            pid,
            tid: 0,
            args: { sort_index: accountIndex * 10_000 + machinePids.size },
          },
        );
      }
      where.set(lane.key, { pid, tid: lane.pid });
      metadata.push(
        {
          ph: "M",
          name: "thread_name",
          pid,
          tid: lane.pid,
          args: { name: `pid ${lane.pid}${lane.role === "" ? "" : ` · ${lane.role}`}` },
        },
        { ph: "M", name: "thread_sort_index", pid, tid: lane.pid, args: { sort_index: laneIndex } },
      );
    }
    const at = (lane: string) => where.get(lane) ?? { pid: accountPid, tid: 0 };

    const byLane = new Map<string, Array<Slice>>();
    for (const slice of picture.slices) {
      const list = byLane.get(slice.lane) ?? [];
      list.push(slice);
      byLane.set(slice.lane, list);
    }
    const drawn = new Map<string, Array<Slice>>();
    for (const [lane, slices] of byLane) {
      const kept = nested(slices);
      drawn.set(lane, kept);
      for (const slice of kept) {
        timed.push({
          ph: "X",
          name: slice.name,
          cat: slice.kind,
          ...at(lane),
          ts: ts(slice.from),
          dur: Math.max(0, micros(slice.to - slice.from)),
          cname: slice.failed ? "terrible" : COLOURS[slice.kind],
          args: slice.details satisfies Details,
        });
      }
    }
    for (const instant of picture.instants) {
      timed.push({
        ph: "i",
        s: "t",
        name: instant.name,
        cat: instant.kind,
        ...at(instant.lane),
        ts: ts(instant.at),
        ...(instant.kind === "anomaly" ? { cname: "terrible" } : {}),
        args: instant.details,
      });
    }
    // A flow binds to the slices around its ends: one from a commit no slice shows (a login) cannot be drawn.
    const enclosed = (lane: string, time: number) =>
      (drawn.get(lane) ?? []).some((slice) => slice.from <= time && time <= slice.to);
    for (const flow of picture.flows) {
      if (!enclosed(flow.from.lane, flow.from.at) || !enclosed(flow.to.lane, flow.to.at)) continue;
      const id = nextFlow++;
      const name = `adopt g${flow.generation}`;
      timed.push(
        { ph: "s", id, name, cat: "adoption", ...at(flow.from.lane), ts: ts(flow.from.at) },
        { ph: "f", bp: "e", id, name, cat: "adoption", ...at(flow.to.lane), ts: ts(flow.to.at) },
      );
    }
  }
  timed.sort((a, b) => a.ts - b.ts);
  return {
    traceEvents: [...metadata, ...timed],
    displayTimeUnit: "ms",
    otherData: {
      producer: "baton replay --trace",
      origin: new Date(origin).toISOString(),
      accounts: pictures.map((p) => p.account).join(", "),
    },
  };
};
