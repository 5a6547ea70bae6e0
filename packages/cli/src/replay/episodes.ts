/**
 * The HTML replay cuts an account's picture into episodes: bursts of activity separated by quiet time (a herd's
 * rotation, a login, a stalled holder and everything waiting on it), each drawn on its own time axis — a rotation
 * lasts a few hundred milliseconds and the next comes minutes later, so one axis for the whole history would squeeze
 * every rotation into a line. An episode keeps only the lanes active in it, grouped by machine.
 */
import {
  type AccountPicture,
  type Flow,
  flightRole,
  type GenerationChange,
  type Instant,
  type Lane,
  type Slice,
} from "./picture.ts";

/** Quiet time that separates two episodes. */
export const EPISODE_GAP_MS = 1_000;

export interface MachineGroup {
  readonly host: string;
  readonly lanes: ReadonlyArray<Lane>;
}

export interface Episode {
  readonly index: number;
  /** What each process did in this episode (its flights here), for its label; the lane's own role otherwise. */
  readonly roles: ReadonlyMap<string, string>;
  readonly from: number;
  readonly to: number;
  readonly machines: ReadonlyArray<MachineGroup>;
  readonly slices: ReadonlyArray<Slice>;
  readonly instants: ReadonlyArray<Instant>;
  readonly flows: ReadonlyArray<Flow>;
  /** The generation stored when the episode began (0: none yet), and the changes during it. */
  readonly generationBefore: number;
  readonly generations: ReadonlyArray<GenerationChange>;
}

interface Span {
  readonly from: number;
  readonly to: number;
}

export const splitEpisodes = (picture: AccountPicture, gapMs = EPISODE_GAP_MS): ReadonlyArray<Episode> => {
  const spans: Array<Span> = [
    ...picture.slices.filter((s) => s.depth === 0).map((s) => ({ from: s.from, to: s.to })),
    ...picture.instants.map((i) => ({ from: i.at, to: i.at })),
  ].sort((a, b) => a.from - b.from);
  const merged: Array<{ from: number; to: number }> = [];
  for (const span of spans) {
    const last = merged.at(-1);
    if (last !== undefined && span.from <= last.to + gapMs) last.to = Math.max(last.to, span.to);
    else merged.push({ from: span.from, to: span.to });
  }
  const lanesByKey = new Map(picture.lanes.map((lane) => [lane.key, lane]));
  /** The episode a time falls in: the last one starting at or before it (binary search over the sorted spans). */
  const episodeOf = (at: number) => {
    let low = 0;
    let high = merged.length - 1;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if ((merged[middle]?.from ?? 0) <= at) low = middle;
      else high = middle - 1;
    }
    return low;
  };
  const group = <T>(items: ReadonlyArray<T>, at: (item: T) => number) => {
    const groups = merged.map(() => [] as Array<T>);
    for (const item of items) groups[episodeOf(at(item))]?.push(item);
    return groups;
  };
  const slicesOf = group(picture.slices, (s) => s.from);
  const instantsOf = group(picture.instants, (i) => i.at);
  const flowsOf = group(picture.flows, (f) => f.to.at);
  const generationsOf = group(picture.generations, (g) => g.at);
  return merged.map((span, index) => {
    const slices = slicesOf[index] ?? [];
    const instants = instantsOf[index] ?? [];
    const flows = flowsOf[index] ?? [];
    // Lanes in order of their first activity in this episode, grouped by machine in the order machines appear.
    const firstAt = new Map<string, number>();
    const seen = (lane: string, at: number) => firstAt.set(lane, Math.min(firstAt.get(lane) ?? at, at));
    for (const slice of slices) seen(slice.lane, slice.from);
    for (const instant of instants) seen(instant.lane, instant.at);
    const ordered = [...firstAt.entries()]
      .sort((a, b) => a[1] - b[1])
      .flatMap(([key]) => {
        const lane = lanesByKey.get(key);
        return lane === undefined ? [] : [lane];
      });
    const machines: Array<{ host: string; lanes: Array<Lane> }> = [];
    for (const lane of ordered) {
      const group = machines.find((m) => m.host === lane.host);
      if (group === undefined) machines.push({ host: lane.host, lanes: [lane] });
      else group.lanes.push(lane);
    }
    const before = picture.generations.findLast((g) => g.at < span.from)?.generation ?? 0;
    const roles = new Map<string, string>();
    for (const slice of slices) {
      if (slice.kind !== "flight") continue;
      const role = flightRole(String(slice.details.outcome), Number(slice.details.generation));
      const known = roles.get(slice.lane);
      roles.set(slice.lane, known === undefined || known === role ? role : `${known} · ${role}`);
    }
    return {
      index,
      roles,
      from: span.from,
      to: span.to,
      machines,
      slices,
      instants,
      flows,
      generationBefore: before,
      generations: generationsOf[index] ?? [],
    };
  });
};
