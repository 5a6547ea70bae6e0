/**
 * `replay --html` (replay/html.ts, episodes.ts, swimlanes.ts): one self-contained page — no external reference of
 * any kind — with the summary at the top, the anomalies listed, each burst of activity as its own episode with one
 * lane per process, and every text from the records escaped.
 */
import { describe, expect, it } from "vitest";
import { splitEpisodes } from "../src/replay/episodes.ts";
import { renderHtml } from "../src/replay/html.ts";
import { buildPicture } from "../src/replay/picture.ts";
import { type HistoryBuilder, herdHistory, T0 } from "./support/herd-history.ts";

const page = (history: HistoryBuilder) => renderHtml([buildPicture(history.input())], { generatedAt: T0 + 60_000 });

/** Anything a browser would fetch: src/href attributes, CSS url() and @import, except in-page fragments. */
const externalReferences = (html: string) =>
  [...html.matchAll(/\b(?:src|href|xlink:href)\s*=\s*"([^"]*)"|url\(\s*['"]?([^)'"]*)|@import/g)]
    .map((m) => m[1] ?? m[2] ?? m[0])
    .filter((target) => !target.startsWith("#"));

describe("replay html", () => {
  it("renderHtml - given a herd of 32, should be a self-contained page with the summary first and one lane per process in the herd's episode", () => {
    const html = page(herdHistory(32));

    expect(externalReferences(html)).toEqual([]);
    expect(html).not.toMatch(/<link|<img|<iframe|fetch\(|XMLHttpRequest/);
    expect(html.indexOf('class="verdict ok"')).toBeLessThan(html.indexOf("<figure"));
    expect(html).toContain("1 refresh for 1 claim; every process that needed a token got one; no anomaly");
    const figures = html.split("<figure").slice(1);
    expect(figures).toHaveLength(2);
    expect(figures[0]).toContain('class="quiet"');
    const herd = figures[1] ?? "";
    expect(herd.match(/<g class="lane/g)).toHaveLength(32);
    expect(herd).toContain("generation 1 → 2");
    expect(herd.match(/<path class="flow"/g)).toHaveLength(31);
    expect(herd).toContain("all held a token 119 ms after the first needed one");
  });

  it("renderHtml - given anomalies and hostile names, should flag them at the top and on their lanes, escaped", () => {
    const history = herdHistory(3).event({
      type: "refresh.in-doubt",
      host: `<img src=x onerror=alert(1)>`,
      at: T0 + 10_200,
      pid: 999,
      generation: 2,
      attempt: 1,
      claimant: { host: "build-3", pid: 200, at: T0 + 10_150 },
    });
    const html = page(history);

    expect(html).toContain('class="verdict bad"');
    expect(html).toMatch(/<ol class="anomalies"><li><b>in-doubt<\/b> at #\d+: generation 2 in doubt <a href="#a0-e1">/);
    expect(html).toContain("machine &lt;img src=x onerror=alert(1)&gt;");
    expect(html).not.toContain("<img src=x");
    expect(html).toMatch(/<g class="lane flagged"/);
    expect(html).toContain('<g class="instant anomaly"');
  });

  it("splitEpisodes - should cut the history at quiet times and keep the lanes of each burst in order of activity", () => {
    const episodes = splitEpisodes(buildPicture(herdHistory(4).input()));
    expect(episodes.map((e) => [e.from - T0, e.to - T0])).toEqual([
      [0, 0],
      [10_000, 10_119],
    ]);
    expect(episodes[1]?.machines.map((m) => m.lanes.map((l) => l.pid))).toEqual([[200, 201, 202, 203]]);
    expect(episodes[1]?.generationBefore).toBe(1);
  });
});
