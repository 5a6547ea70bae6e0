/**
 * One episode (episodes.ts) as an SVG of swimlanes: a time axis in milliseconds from the episode's start, a band with
 * the stored generation, then per machine a header and one lane per process — its flight as a pale bar with the
 * phases in colour inside (wait, claim, request, commit, adopt, serve, give up), its events as ticks, anomalies as
 * red diamonds on a tinted lane — and an arrow from each commit to every process that adopted it. Every mark carries
 * its details in `data-tip` (shown on hover by the page's script) and a `<title>` (the browser's own tooltip).
 */
import type { Episode } from "./episodes.ts";
import type { Details, Instant, Lane, Slice, SliceKind } from "./picture.ts";

export const WIDTH = 1200;
const LABEL_WIDTH = 230;
const RIGHT_MARGIN = 24;
const PLOT_WIDTH = WIDTH - LABEL_WIDTH - RIGHT_MARGIN;
const AXIS_HEIGHT = 22;
const BAND_HEIGHT = 16;
const MACHINE_HEIGHT = 20;
export const ROW_HEIGHT = 16;
const BAR_HEIGHT = 10;
/** The shortest time axis drawn: below it, ticks would be a fraction of a millisecond apart. */
const MIN_SPAN_MS = 20;

/** Fill colours of the phases (and the legend). */
export const PHASE_COLOURS: Readonly<Record<SliceKind, string>> = {
  flight: "#e4e7ec",
  wait: "#f0b429",
  claim: "#8b5cf6",
  request: "#2563eb",
  commit: "#16a34a",
  adopt: "#14b8a6",
  serve: "#93c5fd",
  "give-up": "#dc2626",
  unknown: "#dc2626",
};

export const escapeXml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

const tipText = (title: string, details: Details) =>
  [title, ...Object.entries(details).map(([key, value]) => `${key}: ${value}`)].join("\n");

/** `data-tip` and `<title>` for a mark. */
const tip = (title: string, details: Details) => {
  const text = escapeXml(tipText(title, details));
  return { attribute: ` data-tip="${text}"`, title: `<title>${text}</title>` };
};

/** A step of 1, 2 or 5 × 10^k ms giving about `count` ticks over `span`. */
const tickStep = (span: number, count = 8) => {
  const raw = Math.max(span / count, 0.001);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  return step;
};

const formatOffset = (ms: number, step: number) =>
  step >= 1000 ? `${(ms / 1000).toFixed(step >= 10_000 ? 0 : 1)} s` : `${Math.round(ms)} ms`;

const round1 = (value: number) => Math.round(value * 10) / 10;

export interface SwimlaneOptions {
  /** Unique on the page: prefixes the ids inside this SVG. */
  readonly id: string;
  /** Lanes whose process recorded an anomaly in this episode (tinted). */
  readonly anomalousLanes: ReadonlySet<string>;
}

export const renderSwimlanes = (episode: Episode, options: SwimlaneOptions): string => {
  const span = Math.max(episode.to - episode.from, MIN_SPAN_MS);
  const pad = span * 0.02;
  const start = episode.from - pad;
  const scale = PLOT_WIDTH / (span + 2 * pad);
  const x = (at: number) => round1(LABEL_WIDTH + (at - start) * scale);

  // Vertical layout: axis, generation band, then machines and their lanes.
  const rowOf = new Map<string, number>();
  const parts: Array<string> = [];
  let y = AXIS_HEIGHT + BAND_HEIGHT + 6;
  const machineRows: Array<string> = [];
  const laneRows: Array<string> = [];
  for (const machine of episode.machines) {
    machineRows.push(
      `<text class="machine" x="8" y="${y + 14}">machine ${escapeXml(machine.host)} · ${machine.lanes.length} process${machine.lanes.length === 1 ? "" : "es"}</text>`,
    );
    y += MACHINE_HEIGHT;
    for (const lane of machine.lanes) {
      rowOf.set(lane.key, y);
      const role = episode.roles.get(lane.key) ?? lane.role;
      laneRows.push(laneLabel({ ...lane, role }, y, options.anomalousLanes.has(lane.key)));
      y += ROW_HEIGHT;
    }
  }
  const height = y + 8;
  const plotTop = AXIS_HEIGHT;
  const plotBottom = height - 4;

  // Axis and grid.
  const step = tickStep(span);
  for (let offset = 0; offset <= span + pad; offset += step) {
    const at = x(episode.from + offset);
    parts.push(
      `<line class="grid" x1="${at}" y1="${plotTop}" x2="${at}" y2="${plotBottom}"/>`,
      `<text class="tick" x="${at}" y="14">${offset === 0 ? "0" : `+${formatOffset(offset, step)}`}</text>`,
    );
  }

  // The generation band.
  const bandTop = AXIS_HEIGHT + 2;
  const changes = [
    { at: start, generation: episode.generationBefore },
    ...episode.generations.map((g) => ({ at: g.at, generation: g.generation })),
  ];
  for (const [i, change] of changes.entries()) {
    const from = x(change.at);
    const to = x(changes[i + 1]?.at ?? episode.to + pad);
    const full = change.generation === 0 ? "no credentials" : `generation ${change.generation}`;
    const label = to - from >= 80 ? full : to - from >= 24 ? `g${change.generation}` : "";
    const t = tip(full, { from: i === 0 ? "before this episode" : `+${Math.round(change.at - episode.from)} ms` });
    parts.push(
      `<g class="generation"${t.attribute}><rect x="${from}" y="${bandTop}" width="${round1(Math.max(to - from, 0.5))}" height="${BAND_HEIGHT - 3}" fill="${change.generation % 2 === 0 ? "#dbeafe" : "#ede9fe"}"/>` +
        `<text x="${round1(from + 4)}" y="${bandTop + 10}">${label}</text>${t.title}</g>`,
    );
  }

  // Lane backgrounds (tinted when anomalous), then slices, arrows, instants.
  for (const [key, rowY] of rowOf) {
    if (options.anomalousLanes.has(key))
      parts.push(`<rect class="anomalous" x="0" y="${rowY}" width="${WIDTH}" height="${ROW_HEIGHT}" fill="#fee2e2"/>`);
  }
  for (const slice of [...episode.slices].sort((a, b) => a.depth - b.depth)) {
    const rowY = rowOf.get(slice.lane);
    if (rowY !== undefined) parts.push(sliceMark(slice, rowY, x, options.id));
  }
  for (const flow of episode.flows) {
    const fromY = rowOf.get(flow.from.lane);
    const toY = rowOf.get(flow.to.lane);
    if (fromY === undefined || toY === undefined) continue;
    const x1 = x(flow.from.at);
    const x2 = x(flow.to.at);
    const y1 = fromY + ROW_HEIGHT / 2;
    const y2 = toY + ROW_HEIGHT / 2;
    const bend = round1(Math.max(12, Math.abs(x2 - x1) / 2));
    parts.push(
      `<path class="flow" d="M${x1},${y1} C${round1(x1 + bend)},${y1} ${round1(x2 - bend)},${y2} ${x2},${y2}" marker-end="url(#${options.id}-arrow)"/>`,
    );
  }
  for (const instant of episode.instants) {
    const rowY = rowOf.get(instant.lane);
    if (rowY !== undefined) parts.push(instantMark(instant, rowY, x));
  }

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="swimlanes" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${episode.machines.reduce((n, m) => n + m.lanes.length, 0)} processes">`,
    `<defs><marker id="${options.id}-arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L8,4 L0,8 z" fill="#15803d"/></marker>` +
      `<pattern id="${options.id}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fecaca"/><rect width="3" height="6" fill="${PHASE_COLOURS.unknown}"/></pattern></defs>`,
    ...parts,
    ...machineRows,
    ...laneRows,
    "</svg>",
  ].join("\n");
};

const laneLabel = (lane: Lane, y: number, anomalous: boolean) => {
  const classes = ["lane", lane.role.startsWith("refreshed") ? "holder" : "", anomalous ? "flagged" : ""]
    .filter((c) => c !== "")
    .join(" ");
  const t = tip(`pid ${lane.pid} on ${lane.host}`, { did: lane.role === "" ? "—" : lane.role });
  return (
    `<g class="${classes}" data-lane="${escapeXml(lane.key.replace("\u0000", ":"))}"${t.attribute}>` +
    `<text class="pid" x="18" y="${y + 12}">pid ${lane.pid}</text>` +
    `<text class="role" x="92" y="${y + 12}">${escapeXml(lane.role)}</text>${t.title}</g>`
  );
};

const sliceMark = (slice: Slice, rowY: number, x: (at: number) => number, id: string) => {
  const from = x(slice.from);
  const width = round1(Math.max(x(slice.to) - from, 1));
  const t = tip(slice.name, slice.details);
  if (slice.depth === 0 && slice.kind === "flight") {
    return (
      `<g class="slice flight${slice.failed ? " failed" : ""}"${t.attribute}><rect x="${from}" y="${rowY + 1}" width="${width}" height="${ROW_HEIGHT - 2}" rx="2" ` +
      `fill="${PHASE_COLOURS.flight}"${slice.failed ? ` stroke="${PHASE_COLOURS["give-up"]}" stroke-width="1.5"` : ""}/>${t.title}</g>`
    );
  }
  const top = rowY + (ROW_HEIGHT - BAR_HEIGHT) / 2;
  // A request whose outcome is unknown is hatched red; every other phase is filled with its colour.
  const paint =
    slice.kind === "unknown"
      ? `fill="url(#${id}-hatch)" stroke="${PHASE_COLOURS.unknown}"`
      : `fill="${PHASE_COLOURS[slice.kind]}"`;
  return (
    `<g class="slice ${slice.kind}${slice.failed ? " failed" : ""}"${t.attribute}><rect x="${from}" y="${top}" width="${width}" height="${BAR_HEIGHT}" ` +
    `${paint}/>${t.title}</g>`
  );
};

const instantMark = (instant: Instant, rowY: number, x: (at: number) => number) => {
  const at = x(instant.at);
  const t = tip(instant.name, instant.details);
  const middle = rowY + ROW_HEIGHT / 2;
  switch (instant.kind) {
    case "anomaly":
      return (
        `<g class="instant anomaly"${t.attribute}><path d="M${at},${middle - 7} L${round1(at + 7)},${middle} L${at},${middle + 7} L${round1(at - 7)},${middle} z" ` +
        `fill="#dc2626" stroke="#7f1d1d"/>${t.title}</g>`
      );
    case "hand-out":
      return `<g class="instant hand-out"${t.attribute}><circle cx="${at}" cy="${middle}" r="3.5" fill="#7c3aed"/>${t.title}</g>`;
    case "event":
      return (
        `<g class="instant event"${t.attribute}><line x1="${at}" y1="${rowY + 1}" x2="${at}" y2="${rowY + ROW_HEIGHT - 1}" stroke="#111827" stroke-width="1.5"/>` +
        `<rect x="${round1(at - 3)}" y="${rowY}" width="6" height="${ROW_HEIGHT}" fill="transparent"/>${t.title}</g>`
      );
  }
};
