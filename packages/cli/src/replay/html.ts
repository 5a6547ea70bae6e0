/**
 * `baton replay --html FILE`: one self-contained page — inline CSS, inline SVG, a few lines of inline script for the
 * hover details, no request to anywhere, no external font — with, per account, the summary at the top (a one-line
 * verdict, the counts, the anomalies linked to where they happened), a legend, then each episode (episodes.ts) as
 * swimlanes (swimlanes.ts). Everything shown comes from the pictures, which hold fingerprints, never tokens.
 */
import { absoluteTime } from "../format.ts";
import { type Episode, splitEpisodes } from "./episodes.ts";
import type { AccountPicture } from "./picture.ts";
import { escapeXml, PHASE_COLOURS, renderSwimlanes } from "./swimlanes.ts";

const STYLE = `
:root { color-scheme: light; }
body { margin: 0; padding: 20px 28px 40px; font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #111827; background: #fff; }
h1 { font-size: 20px; margin: 0 0 2px; }
h2 { font-size: 17px; margin: 26px 0 6px; }
.meta { color: #6b7280; margin: 0 0 12px; }
.state { font-weight: normal; color: #374151; background: #f3f4f6; border-radius: 4px; padding: 1px 6px; margin-left: 6px; }
.verdict { font-size: 15px; font-weight: 600; padding: 8px 12px; border-radius: 6px; margin: 6px 0 8px; }
.verdict.ok { background: #dcfce7; color: #14532d; }
.verdict.bad { background: #fee2e2; color: #7f1d1d; }
.counts { display: flex; flex-wrap: wrap; gap: 4px 18px; margin: 0 0 8px; padding: 0; list-style: none; color: #374151; }
.counts b { color: #111827; }
.anomalies { margin: 4px 0 10px; padding: 8px 12px 8px 28px; background: #fef2f2; border: 1px solid #fecaca; border-radius: 6px; color: #7f1d1d; }
.anomalies a { color: #991b1b; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: center; color: #374151; margin: 6px 0 4px; }
.legend span { display: inline-flex; align-items: center; gap: 5px; }
.legend i { display: inline-block; width: 16px; height: 10px; border-radius: 2px; }
.hint { color: #6b7280; margin: 0 0 6px; }
figure { margin: 14px 0 0; overflow-x: auto; }
figcaption { font-weight: 600; margin: 0 0 4px; }
figure.quiet ul { margin: 0; padding-left: 18px; color: #374151; }
figure.quiet li.flagged { color: #b91c1c; font-weight: 600; }
figcaption .sub { font-weight: normal; color: #4b5563; }
svg.swimlanes { display: block; font-size: 11px; }
svg .tick { fill: #6b7280; text-anchor: middle; }
svg .grid { stroke: #eef0f3; }
svg .machine { font-weight: 600; fill: #1f2937; }
svg .lane .pid { fill: #111827; font-variant-numeric: tabular-nums; }
svg .lane .role { fill: #6b7280; }
svg .lane.holder .pid, svg .lane.holder .role { font-weight: 700; fill: #166534; }
svg .lane.flagged .pid, svg .lane.flagged .role { fill: #b91c1c; font-weight: 700; }
svg .generation text { fill: #374151; font-size: 10px; }
svg .flow { fill: none; stroke: #15803d; stroke-opacity: 0.45; stroke-width: 1.1; }
svg [data-tip]:hover rect, svg [data-tip]:hover path, svg [data-tip]:hover circle { filter: brightness(0.85); }
#tip { position: fixed; z-index: 10; max-width: 520px; padding: 6px 9px; border-radius: 5px; background: #111827; color: #f9fafb; font-size: 12px; white-space: pre-line; pointer-events: none; box-shadow: 0 2px 8px rgba(0,0,0,.25); }
`;

/** Moves each mark's details from `<title>` (the browser's slow tooltip) to a tooltip that follows the pointer. */
const SCRIPT = `
(() => {
  const tip = document.getElementById("tip");
  for (const title of document.querySelectorAll("svg [data-tip] > title")) title.remove();
  document.addEventListener("mousemove", (event) => {
    const target = event.target instanceof Element ? event.target.closest("[data-tip]") : null;
    if (target === null) {
      tip.hidden = true;
      return;
    }
    tip.textContent = target.getAttribute("data-tip");
    tip.hidden = false;
    const left = Math.min(event.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
    const below = event.clientY + 18 + tip.offsetHeight <= window.innerHeight;
    tip.style.left = Math.max(4, left) + "px";
    tip.style.top = (below ? event.clientY + 18 : event.clientY - tip.offsetHeight - 10) + "px";
  });
})();
`;

const LEGEND: ReadonlyArray<readonly [keyof typeof PHASE_COLOURS, string]> = [
  ["flight", "a process's refresh flight"],
  ["wait", "waiting (lock or holder)"],
  ["claim", "read, lock, claim"],
  ["request", "request to the token endpoint"],
  ["commit", "commit (store g+1)"],
  ["adopt", "adopted from the store"],
  ["serve", "served a still-valid token"],
  ["give-up", "gave up / outcome unknown"],
];

const legend = () =>
  `<div class="legend">${LEGEND.map(
    ([kind, label]) => `<span><i style="background:${PHASE_COLOURS[kind]}"></i>${escapeXml(label)}</span>`,
  ).join(
    "",
  )}<span><svg width="22" height="10"><path d="M1,5 L15,5" stroke="#15803d" stroke-width="1.5"/><path d="M14,1 L21,5 L14,9 z" fill="#15803d"/></svg>commit → adopter</span>` +
  `<span><svg width="6" height="12"><line x1="3" y1="0" x2="3" y2="12" stroke="#111827" stroke-width="1.5"/></svg>event</span>` +
  `<span><svg width="14" height="14"><path d="M7,0 L14,7 L7,14 L0,7 z" fill="#dc2626"/></svg>anomaly</span>` +
  `<span><svg width="8" height="8"><circle cx="4" cy="4" r="3.5" fill="#7c3aed"/></svg>hand-out (broker)</span></div>`;

const plural = (count: number, word: string, many = `${word}s`) => `${count} ${count === 1 ? word : many}`;

const verdict = (picture: AccountPicture) => {
  const s = picture.summary;
  const problems = [
    ...(picture.anomalies.length > 0 ? [plural(picture.anomalies.length, "anomaly", "anomalies")] : []),
    ...(s.gaveUp > 0 ? [`${s.gaveUp} gave up`] : []),
    ...(s.inDoubt > 0 ? [`${s.inDoubt} in doubt`] : []),
    ...(s.revoked > 0 ? [plural(s.revoked, "revocation")] : []),
  ];
  const text =
    problems.length === 0
      ? `${plural(s.refreshes, "refresh", "refreshes")} for ${plural(s.claims, "claim")}; every process that needed a token got one; no anomaly`
      : `${problems.join(", ")} — see the flagged lanes below`;
  return `<div class="verdict ${problems.length === 0 ? "ok" : "bad"}">${escapeXml(text)}</div>`;
};

const counts = (picture: AccountPicture) => {
  const s = picture.summary;
  const items: ReadonlyArray<readonly [string, number]> = [
    ["events", s.events],
    ["refreshes", s.refreshes],
    ["claims", s.claims],
    ["processes", s.processes],
    ["machines", s.machines],
    ["refreshed", s.refreshed],
    ["adopted", s.adopted],
    ["served", s.served],
    ["gave up", s.gaveUp],
    ["in doubt", s.inDoubt],
    ["revoked", s.revoked],
    ["lock waits", s.lockWaits],
    ["hand-outs", s.handOuts],
    ["anomalies", picture.anomalies.length],
  ];
  return `<ul class="counts">${items.map(([label, value]) => `<li>${escapeXml(label)} <b>${value}</b></li>`).join("")}</ul>`;
};

const caption = (episode: Episode) => {
  const flights = episode.slices.filter((s) => s.kind === "flight");
  const outcome = (name: string) => flights.filter((s) => s.details.outcome === name).length;
  const requests = episode.slices.filter((s) => s.kind === "request" || s.kind === "unknown").length;
  const processes = episode.machines.reduce((n, m) => n + m.lanes.length, 0);
  const last = episode.generations.at(-1)?.generation;
  const generation =
    last === undefined
      ? episode.generationBefore === 0
        ? "no credentials"
        : `generation ${episode.generationBefore}`
      : episode.generationBefore === 0
        ? `generation ${last}`
        : `generation ${episode.generationBefore} → ${last}`;
  const parts = [
    plural(processes, "process", "processes"),
    plural(requests, "request"),
    ...(outcome("refreshed") + outcome("adopted") + outcome("served") + outcome("gave-up") > 0
      ? [
          `${outcome("refreshed")} refreshed, ${outcome("adopted")} adopted, ${outcome("served")} served, ${outcome("gave-up")} gave up`,
        ]
      : []),
  ];
  if (flights.length > 0 && outcome("gave-up") === 0) {
    const first = Math.min(...flights.map((s) => s.from));
    const lastEnd = Math.max(...flights.map((s) => s.to));
    parts.push(`all held a token ${Math.round(lastEnd - first)} ms after the first needed one`);
  }
  return (
    `<figcaption>${escapeXml(absoluteTime(episode.from).replace("T", " "))} · ${escapeXml(generation)} ` +
    `<span class="sub">· ${escapeXml(parts.join(" · "))}</span></figcaption>`
  );
};

const quietEpisode = (episode: Episode, id: string, picture: AccountPicture) => {
  const lanes = new Map(picture.lanes.map((lane) => [lane.key, lane]));
  const items = episode.instants.map((instant) => {
    const lane = lanes.get(instant.lane);
    const who = lane === undefined ? "" : `pid ${lane.pid} on ${lane.host}: `;
    const what = typeof instant.details.what === "string" ? instant.details.what : instant.name;
    const flag = instant.kind === "anomaly" ? ` class="flagged"` : "";
    return `<li${flag}>${escapeXml(`${absoluteTime(instant.at).replace("T", " ")} ${who}${what}`)}</li>`;
  });
  return `<figure id="${id}" class="quiet"><ul>${items.join("")}</ul></figure>`;
};

const accountSection = (picture: AccountPicture, accountIndex: number) => {
  const episodes = splitEpisodes(picture);
  const episodeOf = (at: number | undefined) =>
    at === undefined ? undefined : episodes.find((e) => at >= e.from && at <= e.to);
  const id = (episode: Episode) => `a${accountIndex}-e${episode.index}`;
  const anomalyList =
    picture.anomalies.length === 0
      ? ""
      : `<ol class="anomalies">${picture.anomalies
          .map((a) => {
            const episode = episodeOf(a.at);
            const where = episode === undefined ? "" : ` <a href="#${id(episode)}">(show)</a>`;
            return `<li><b>${escapeXml(a.kind)}</b> at #${a.seq}: ${escapeXml(a.detail)}${where}</li>`;
          })
          .join("")}</ol>`;
  const figures = episodes.map((episode) => {
    // An episode of single records (a login, an export) is a line of text, not a chart.
    if (episode.slices.length === 0) return quietEpisode(episode, id(episode), picture);
    const anomalousLanes = new Set(
      picture.anomalies.flatMap((a) =>
        a.lane !== undefined && episodeOf(a.at)?.index === episode.index ? [a.lane] : [],
      ),
    );
    for (const slice of episode.slices) if (slice.failed) anomalousLanes.add(slice.lane);
    return `<figure id="${id(episode)}">${caption(episode)}\n${renderSwimlanes(episode, { id: id(episode), anomalousLanes })}</figure>`;
  });
  return [
    `<section class="account">`,
    `<h2>${escapeXml(picture.account)}<span class="state">${escapeXml(picture.state)}</span></h2>`,
    verdict(picture),
    counts(picture),
    anomalyList,
    episodes.length === 0 ? `<p class="hint">No events recorded.</p>` : figures.join("\n"),
    `</section>`,
  ].join("\n");
};

export interface HtmlOptions {
  /** When the page was made (ms since the epoch). */
  readonly generatedAt: number;
}

export const renderHtml = (pictures: ReadonlyArray<AccountPicture>, options: HtmlOptions): string => {
  const title = `baton replay — ${pictures.map((p) => p.account).join(", ") || "no accounts"}`;
  return [
    "<!DOCTYPE html>",
    `<html lang="en">`,
    `<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>${escapeXml(title)}</title>`,
    `<style>${STYLE}</style></head>`,
    "<body>",
    `<h1>baton replay</h1>`,
    `<p class="meta">${escapeXml(
      `${plural(pictures.length, "account")} · made ${absoluteTime(options.generatedAt).replace("T", " ")} · fingerprints only, no token`,
    )}</p>`,
    legend(),
    `<p class="hint">One row per process, grouped by machine; time runs left to right from the start of each episode (a burst of activity). Hover over a mark for its details.</p>`,
    ...pictures.map(accountSection),
    `<div id="tip" role="tooltip" hidden></div>`,
    `<script>${SCRIPT}</script>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
};
