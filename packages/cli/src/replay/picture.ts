/**
 * The picture `replay --trace` and `replay --html` draw, built from an account's protocol events and diagnostic notes
 * with no I/O: one lane per process (a machine and a pid), and on each lane what that process did.
 *
 * A flight note (events.ts `FlightNote`) becomes a flight slice with its phases inside: the wait for the lock or for
 * another process's outcome, then — for the process that refreshed — claim → request → commit (from its own
 * `refresh.claimed` and `credentials.stored` events and the note's `sentAt`/`answeredAt`), or the adoption of a newer
 * generation, or a still-valid token served, or giving up. An arrow (a flow) goes from each commit to every process
 * that adopted that generation. Events are instants on the lane of the process that recorded them; anomalies (the
 * timeline's) are instants too, flagged; a broker's hand-outs are instants on the broker's lane. A process that left
 * no note (a log older than the notes, a process killed mid-refresh) is drawn from its events alone: a lock wait from
 * `lock.waited`, a request from its claim to its outcome — or, for a claim later found in doubt, to that finding.
 */
import type { AccountEvent, DiagnosticNote, FlightNote, HandOutNote } from "@baton/core";
import { absoluteTime } from "../format.ts";
import { type Anomaly, describeEvent, type summarize } from "../timeline.ts";

/** What a slice shows: a whole flight, or one of its phases. */
export type SliceKind = "flight" | "wait" | "claim" | "request" | "commit" | "adopt" | "serve" | "give-up" | "unknown";

/** Details shown on hover (and as trace `args`): secret-free by construction (fingerprints, times, reasons). */
export type Details = Readonly<Record<string, string | number>>;

export interface Lane {
  /** Unique within a picture: machine and pid. */
  readonly key: string;
  readonly host: string;
  readonly pid: number;
  /** What this process did, in a few words ("refreshed g2", "adopted g3", "login"), for its label. */
  readonly role: string;
  /** The first time anything happened on this lane. */
  readonly firstAt: number;
}

export interface Slice {
  readonly lane: string;
  readonly kind: SliceKind;
  readonly from: number;
  readonly to: number;
  readonly name: string;
  readonly details: Details;
  /** 0 for a flight (or a slice drawn from events alone), 1 for a phase inside a flight. */
  readonly depth: 0 | 1;
  /** A flight that gave up, a request whose outcome is unknown. */
  readonly failed: boolean;
}

export type InstantKind = "event" | "anomaly" | "hand-out";

export interface Instant {
  readonly lane: string;
  readonly at: number;
  readonly kind: InstantKind;
  readonly name: string;
  readonly details: Details;
}

/** An arrow from the commit of `generation` to a process that adopted it. */
export interface Flow {
  readonly generation: number;
  readonly from: { readonly lane: string; readonly at: number };
  readonly to: { readonly lane: string; readonly at: number };
}

export interface GenerationChange {
  readonly at: number;
  readonly generation: number;
  readonly source: string;
  readonly lane: string;
}

export interface PictureSummary extends ReturnType<typeof summarize> {
  readonly processes: number;
  readonly machines: number;
  readonly refreshed: number;
  readonly adopted: number;
  readonly served: number;
  readonly gaveUp: number;
  readonly handOuts: number;
}

export interface AccountPicture {
  readonly account: string;
  readonly state: string;
  readonly summary: PictureSummary;
  readonly anomalies: ReadonlyArray<Anomaly & { readonly lane: string | undefined; readonly at: number | undefined }>;
  readonly lanes: ReadonlyArray<Lane>;
  readonly slices: ReadonlyArray<Slice>;
  readonly instants: ReadonlyArray<Instant>;
  readonly flows: ReadonlyArray<Flow>;
  readonly generations: ReadonlyArray<GenerationChange>;
  /** The first and last time in the picture (ms since the epoch); equal when it is empty. */
  readonly from: number;
  readonly to: number;
}

export interface PictureInput {
  readonly account: string;
  readonly state: string;
  readonly summary: ReturnType<typeof summarize>;
  readonly anomalies: ReadonlyArray<Anomaly>;
  readonly events: ReadonlyArray<AccountEvent>;
  readonly notes: ReadonlyArray<DiagnosticNote>;
}

export const laneKey = (host: string, pid: number): string => `${host}\u0000${pid}`;

const isFlight = (note: DiagnosticNote): note is FlightNote => note.kind === "flight";
const isHandOut = (note: DiagnosticNote): note is HandOutNote => note.kind === "hand-out";

const time = (at: number) => absoluteTime(at).replace("T", " ");

/** Appends phases one after another inside [from, to] of their flight, never overlapping (viewers need nesting). */
class Phases {
  private cursor: number;
  readonly slices: Array<Slice> = [];
  constructor(
    private readonly lane: string,
    from: number,
    private readonly to: number,
  ) {
    this.cursor = from;
  }
  add(kind: SliceKind, from: number, to: number, name: string, details: Details, failed = false) {
    const start = Math.min(Math.max(from, this.cursor), this.to);
    const end = Math.min(to, this.to);
    if (end <= start) return;
    this.slices.push({ lane: this.lane, kind, from: start, to: end, name, details, depth: 1, failed });
    this.cursor = end;
  }
}

const outcomeName = (note: FlightNote): string => {
  switch (note.outcome) {
    case "refreshed":
      return `refreshed g${note.generation - 1} → g${note.generation}`;
    case "adopted":
      return `adopted g${note.generation}`;
    case "served":
      return `served g${note.generation} (still valid)`;
    case "gave-up":
      return `gave up${note.reason === undefined ? "" : `: ${note.reason}`}`;
  }
};

/** What a flight did, in a few words: "refreshed g2", "adopted g2", "served g1", "gave up". */
export const flightRole = (outcome: string, generation: number): string =>
  outcome === "gave-up" ? "gave up" : `${outcome} g${generation}`;

/**
 * What a process did over all its flights: the one flight's role, or for a long-running process the refreshes and
 * failures first, then how many times it adopted or served ("refreshed g3 · adopted 4×").
 */
const laneRole = (flights: ReadonlyArray<FlightNote>): string | undefined => {
  if (flights.length === 0) return undefined;
  const [only] = flights;
  if (flights.length === 1 && only !== undefined) return flightRole(only.outcome, only.generation);
  const notable = flights
    .filter((f) => f.outcome === "refreshed" || f.outcome === "gave-up")
    .map((f) => flightRole(f.outcome, f.generation));
  const counted = (["adopted", "served"] as const).flatMap((outcome) => {
    const count = flights.filter((f) => f.outcome === outcome).length;
    return count === 0 ? [] : [`${outcome} ${count}×`];
  });
  return [...new Set(notable), ...counted].join(" · ");
};

const eventRole = (event: AccountEvent): string | undefined => {
  switch (event.type) {
    case "credentials.stored":
      return event.source === "refresh" ? `refreshed g${event.generation}` : `${event.source} g${event.generation}`;
    case "refresh.claimed":
      return `claimed g${event.generation}`;
    case "account.logged-out":
      return "logout";
    case "account.exported":
      return "export";
    case "account.revoked":
      return "revoked";
    case "refresh.in-doubt":
      return "found in doubt";
    default:
      return undefined;
  }
};

export const buildPicture = (input: PictureInput): AccountPicture => {
  const { events } = input;
  const flights = input.notes.filter(isFlight);
  const handOuts = input.notes.filter(isHandOut);
  const slices: Array<Slice> = [];
  const instants: Array<Instant> = [];
  const flows: Array<Flow> = [];
  const lanes = new Map<string, { host: string; pid: number; role: string | undefined; firstAt: number }>();
  const touch = (host: string, pid: number, at: number) => {
    const key = laneKey(host, pid);
    const lane = lanes.get(key);
    if (lane === undefined) lanes.set(key, { host, pid, role: undefined, firstAt: at });
    else lane.firstAt = Math.min(lane.firstAt, at);
    return key;
  };
  const flightsOf = new Map<string, Array<FlightNote>>();
  for (const note of flights) {
    const key = laneKey(note.host, note.pid);
    const list = flightsOf.get(key) ?? [];
    list.push(note);
    flightsOf.set(key, list);
  }

  const byLane = new Map<string, Array<AccountEvent>>();
  for (const event of events) {
    const key = laneKey(event.host, event.pid);
    const list = byLane.get(key) ?? [];
    list.push(event);
    byLane.set(key, list);
  }
  /** The events a flight covers: same process, inside its time. */
  const within = (note: FlightNote) =>
    (byLane.get(laneKey(note.host, note.pid)) ?? []).filter((e) => e.at >= note.startedAt && e.at <= note.endedAt);
  const covered = new Set<number>();
  /** Where each generation was committed (for the arrows), by the process that stored it. */
  const commits = new Map<number, { lane: string; at: number }>();

  for (const event of events) {
    if (event.type !== "credentials.stored") continue;
    commits.set(event.generation, { lane: laneKey(event.host, event.pid), at: event.at });
  }

  for (const note of flights) {
    const lane = touch(note.host, note.pid, note.startedAt);
    const inside = within(note);
    for (const e of inside) covered.add(e.seq);
    const failed = note.outcome === "gave-up";
    const parentDetails: Details = {
      process: `pid ${note.pid} on ${note.host}`,
      outcome: note.outcome,
      generation: note.generation,
      started: time(note.startedAt),
      "took (ms)": Math.round(note.endedAt - note.startedAt),
      ...(note.waitedFrom === undefined
        ? {}
        : { "waited (ms)": Math.round((note.waitedUntil ?? note.endedAt) - note.waitedFrom) }),
      ...(note.reason === undefined ? {} : { reason: note.reason }),
    };
    slices.push({
      lane,
      kind: "flight",
      from: note.startedAt,
      to: Math.max(note.endedAt, note.startedAt),
      name: outcomeName(note),
      details: parentDetails,
      depth: 0,
      failed,
    });
    const phases = new Phases(lane, note.startedAt, Math.max(note.endedAt, note.startedAt));
    if (note.waitedFrom !== undefined) {
      const until = note.waitedUntil ?? note.endedAt;
      phases.add("wait", note.waitedFrom, until, "wait", {
        what: "waited for the lock or for the holder's outcome",
        "waited (ms)": Math.round(until - note.waitedFrom),
      });
    }
    const lockedAt = note.waitedUntil ?? note.startedAt;
    const claim = inside.findLast((e) => e.type === "refresh.claimed");
    const stored = inside.findLast((e) => e.type === "credentials.stored" && e.source === "refresh");
    if (note.outcome === "refreshed" || claim !== undefined || note.sentAt !== undefined) {
      const g = claim?.type === "refresh.claimed" ? claim.generation : note.generation - 1;
      const claimAt = claim?.at ?? note.sentAt ?? lockedAt;
      const sentAt = note.sentAt ?? claimAt;
      const answeredAt = note.answeredAt ?? stored?.at ?? note.endedAt;
      phases.add("claim", lockedAt, sentAt, `claim g${g}`, {
        what: `took the lock and the exclusive claim on generation ${g}`,
        ...(claim?.type === "refresh.claimed"
          ? { attempt: claim.attempt, ...(claim.refreshFp === undefined ? {} : { "refresh token": claim.refreshFp }) }
          : {}),
      });
      phases.add(
        "request",
        sentAt,
        answeredAt,
        `request g${g}`,
        {
          what: `presented generation ${g}'s refresh token to the token endpoint`,
          "took (ms)": Math.round(answeredAt - sentAt),
        },
        failed,
      );
      if (stored?.type === "credentials.stored") {
        phases.add("commit", answeredAt, stored.at, `commit g${stored.generation}`, {
          what: `stored generation ${stored.generation} durably (compare-and-set), then recorded it`,
          access: stored.accessFp,
          ...(stored.refreshFp === undefined ? {} : { "refresh token": stored.refreshFp }),
          expires: time(stored.expiresAt),
        });
        commits.set(stored.generation, { lane, at: answeredAt });
      }
    }
    if (note.outcome === "adopted") {
      phases.add("adopt", lockedAt, note.endedAt, `adopt g${note.generation}`, {
        what: `took generation ${note.generation} from the store (no request)`,
      });
    } else if (note.outcome === "served") {
      phases.add("serve", lockedAt, note.endedAt, `serve g${note.generation}`, {
        what: `kept generation ${note.generation}'s still-valid token while another process refreshed`,
      });
    } else if (failed) {
      phases.add(
        "give-up",
        note.answeredAt ?? lockedAt,
        note.endedAt,
        "give up",
        { reason: note.reason ?? "unknown" },
        true,
      );
    }
    slices.push(...phases.slices);
  }

  // Arrows: from each commit to every process that adopted that generation.
  for (const note of flights) {
    if (note.outcome !== "adopted") continue;
    const commit = commits.get(note.generation);
    if (commit === undefined) continue;
    flows.push({
      generation: note.generation,
      from: commit,
      to: { lane: laneKey(note.host, note.pid), at: note.waitedUntil ?? note.startedAt },
    });
  }

  // Events: instants on their process's lane; what no note covers is drawn from the events alone.
  for (const [index, event] of events.entries()) {
    const lane = touch(event.host, event.pid, event.type === "lock.waited" ? event.at - event.waitedMs : event.at);
    const role = eventRole(event);
    const known = lanes.get(lane);
    if (role !== undefined && known !== undefined && known.role === undefined && !flightsOf.has(lane))
      known.role = role;
    instants.push({
      lane,
      at: event.at,
      kind: "event",
      name: event.type,
      details: { seq: event.seq, at: time(event.at), what: describeEvent(event) },
    });
    if (covered.has(event.seq)) continue;
    if (event.type === "lock.waited") {
      slices.push({
        lane,
        kind: "wait",
        from: event.at - event.waitedMs,
        to: event.at,
        name: "wait",
        details: { what: "waited for the lock", "waited (ms)": Math.round(event.waitedMs) },
        depth: 0,
        failed: false,
      });
    } else if (event.type === "refresh.claimed") {
      const later = events.slice(index + 1);
      const outcome = later.find(
        (e) =>
          (e.host === event.host &&
            e.pid === event.pid &&
            ((e.type === "credentials.stored" && e.generation === event.generation + 1) ||
              ((e.type === "refresh.failed" || e.type === "refresh.rejected") && e.generation === event.generation))) ||
          (e.type === "refresh.in-doubt" &&
            e.generation === event.generation &&
            e.claimant.host === event.host &&
            e.claimant.pid === event.pid),
      );
      if (outcome === undefined) continue;
      const unknown = outcome.type === "refresh.in-doubt";
      slices.push({
        lane,
        kind: unknown ? "unknown" : "request",
        from: event.at,
        to: outcome.at,
        name: unknown ? `request g${event.generation}: outcome unknown` : `request g${event.generation}`,
        details: unknown
          ? {
              what: `presented generation ${event.generation}; no answer was stored (in doubt, found by pid ${outcome.pid} on ${outcome.host})`,
            }
          : { what: `presented generation ${event.generation}`, outcome: describeEvent(outcome) },
        depth: 0,
        failed: unknown || outcome.type !== "credentials.stored",
      });
    }
  }

  for (const note of handOuts) {
    const lane = touch(note.host, note.pid, note.at);
    instants.push({
      lane,
      at: note.at,
      kind: "hand-out",
      name: `hand-out to ${note.client}`,
      details: {
        client: note.client,
        generation: note.generation,
        access: note.accessFp,
        expires: time(note.expiresAt),
      },
    });
  }

  const bySeq = new Map(events.map((e) => [e.seq, e]));
  const anomalies = input.anomalies.map((anomaly) => {
    const event = bySeq.get(anomaly.seq);
    return {
      ...anomaly,
      lane: event === undefined ? undefined : laneKey(event.host, event.pid),
      at: event?.at,
    };
  });
  for (const anomaly of anomalies) {
    if (anomaly.lane === undefined || anomaly.at === undefined) continue;
    instants.push({
      lane: anomaly.lane,
      at: anomaly.at,
      kind: "anomaly",
      name: `anomaly: ${anomaly.kind}`,
      details: { seq: anomaly.seq, kind: anomaly.kind, what: anomaly.detail },
    });
  }

  const generations = events.flatMap((e) =>
    e.type === "credentials.stored"
      ? [{ at: e.at, generation: e.generation, source: e.source, lane: laneKey(e.host, e.pid) }]
      : [],
  );
  let from = Number.POSITIVE_INFINITY;
  let to = Number.NEGATIVE_INFINITY;
  for (const slice of slices) {
    from = Math.min(from, slice.from);
    to = Math.max(to, slice.to);
  }
  for (const instant of instants) {
    from = Math.min(from, instant.at);
    to = Math.max(to, instant.at);
  }
  if (from > to) from = to = 0;
  const laneList = [...lanes.entries()]
    .map(([key, lane]) => ({
      key,
      host: lane.host,
      pid: lane.pid,
      role:
        laneRole(flightsOf.get(key) ?? []) ??
        lane.role ??
        (handOuts.some((n) => laneKey(n.host, n.pid) === key) ? "broker" : ""),
      firstAt: lane.firstAt,
    }))
    .sort((a, b) => a.firstAt - b.firstAt || a.pid - b.pid);
  const count = (outcome: FlightNote["outcome"]) => flights.filter((n) => n.outcome === outcome).length;
  return {
    account: input.account,
    state: input.state,
    summary: {
      ...input.summary,
      processes: laneList.length,
      machines: new Set(laneList.map((l) => l.host)).size,
      refreshed: count("refreshed"),
      adopted: count("adopted"),
      served: count("served"),
      gaveUp: count("gave-up"),
      handOuts: handOuts.length,
    },
    anomalies,
    lanes: laneList,
    slices,
    instants: instants.sort((a, b) => a.at - b.at),
    flows,
    generations,
    from,
    to,
  };
};
