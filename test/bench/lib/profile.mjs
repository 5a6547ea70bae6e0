/**
 * Summaries of V8 CPU profiles (`node --cpu-prof`): self time per function and per source, with bundled code mapped
 * back to its original file through the bundle's source map (node:module's SourceMap), so a profile of
 * packages/cli/dist/baton.mjs names e.g. `node_modules/effect/dist/Schema.js` or `packages/core/src/lifecycle.ts`.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { ROOT, round } from "./common.mjs";

const maps = new Map();

const sourceMapOf = (url) => {
  if (maps.has(url)) return maps.get(url);
  let map;
  try {
    const path = url.startsWith("file://") ? fileURLToPath(url) : url;
    const mapPath = `${path}.map`;
    if (existsSync(mapPath)) {
      const payload = JSON.parse(readFileSync(mapPath, "utf8"));
      map = { sourceMap: new SourceMap(payload), dir: dirname(mapPath) };
    }
  } catch {
    map = undefined;
  }
  maps.set(url, map);
  return map;
};

/** A short, stable name for where a frame's code comes from. */
const originOf = (frame) => {
  const { url, lineNumber, columnNumber } = frame;
  if (url === "") return { file: "(native/V8)", line: -1 };
  if (url.startsWith("node:")) return { file: url, line: lineNumber + 1 };
  const map = sourceMapOf(url);
  if (map !== undefined) {
    const entry = map.sourceMap.findEntry(lineNumber, columnNumber);
    if (entry?.originalSource !== undefined) {
      const source = entry.originalSource.startsWith("file://")
        ? fileURLToPath(entry.originalSource)
        : join(map.dir, entry.originalSource);
      return { file: shorten(source), line: entry.originalLine + 1 };
    }
  }
  const path = url.startsWith("file://") ? fileURLToPath(url) : url;
  return { file: shorten(path), line: lineNumber + 1 };
};

const shorten = (path) => {
  const pnpm = path.indexOf("node_modules/.pnpm/");
  if (pnpm >= 0) {
    const rest = path.slice(pnpm + "node_modules/.pnpm/".length);
    const inner = rest.indexOf("/node_modules/");
    return inner >= 0 ? `node_modules/${rest.slice(inner + "/node_modules/".length)}` : rest;
  }
  const fromRoot = relative(ROOT, path);
  return fromRoot.startsWith("..") ? basename(path) : fromRoot;
};

/** Which package or area a source belongs to, for the coarse breakdown. */
const areaOf = (file) => {
  if (file.startsWith("(")) return file;
  if (file.startsWith("node:")) return "node internals";
  const match = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (match) return match[1];
  const pkg = /^packages\/([^/]+)\/src\/([^/]+)/.exec(file);
  if (pkg) return `@baton/${pkg[1]} (${pkg[2]})`;
  return file;
};

/** Self time (µs) per function and per area of one profile. */
const selfTimes = (path) => {
  const profile = JSON.parse(readFileSync(path, "utf8"));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    const delta = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }
  const byFunction = new Map();
  const byArea = new Map();
  let idleUs = 0;
  let sampledUs = 0;
  for (const [id, us] of selfUs) {
    const frame = nodes.get(id).callFrame;
    // The profiler's own start/stop calls (in-process inspector sessions) are not the program's time.
    if (frame.url === "node:inspector") continue;
    sampledUs += us;
    const special = frame.functionName.startsWith("(") && frame.url === "";
    if (special && frame.functionName === "(idle)") idleUs += us;
    const origin = special ? { file: frame.functionName, line: -1 } : originOf(frame);
    const name = special ? frame.functionName : `${frame.functionName || "(anonymous)"} ${origin.file}:${origin.line}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    const area = areaOf(origin.file);
    byArea.set(area, (byArea.get(area) ?? 0) + us);
  }
  return { totalUs: profile.endTime - profile.startTime, sampledUs, idleUs, byFunction, byArea };
};

const rank = (map, totalUs, top) =>
  [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, selfMs: round(us / 1000, 1), pct: round((100 * us) / totalUs, 1) }));

/** Self time per function and per area, in ms, from one .cpuprofile file. */
export const summariseProfile = (path, top = 15) => {
  const { totalUs, sampledUs, idleUs, byFunction, byArea } = selfTimes(path);
  return {
    file: path,
    totalMs: round(totalUs / 1000, 1),
    busyMs: round((sampledUs - idleUs) / 1000, 1),
    topFunctions: rank(byFunction, totalUs, top),
    topAreas: rank(byArea, totalUs, top),
  };
};

/**
 * Several processes' profiles added up (e.g. every member of a herd): self time per function and area summed over
 * all of them, without "(idle)"; percentages are of the summed non-idle samples. With more runnable processes than
 * CPUs a sample also lands while its thread waits for a CPU, so the totals exceed the CPU time; the shares remain
 * a fair picture of where the work is.
 */
export const summariseProfiles = (paths, top = 15) => {
  const byFunction = new Map();
  const byArea = new Map();
  const busy = [];
  for (const path of paths) {
    const one = selfTimes(path);
    busy.push((one.sampledUs - one.idleUs) / 1000);
    for (const [name, us] of one.byFunction)
      if (name !== "(idle)") byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    for (const [name, us] of one.byArea) if (name !== "(idle)") byArea.set(name, (byArea.get(name) ?? 0) + us);
  }
  const busyUs = busy.reduce((a, b) => a + b, 0) * 1000;
  const sorted = [...busy].sort((a, b) => a - b);
  return {
    file: paths.length > 0 ? dirname(paths[0]) : "",
    processes: paths.length,
    totalMs: round(busyUs / 1000, 1),
    busyMs: round(busyUs / 1000, 1),
    busyPerProcessMs: {
      median: round(sorted[Math.floor(sorted.length / 2)] ?? Number.NaN, 1),
      max: round(sorted.at(-1) ?? Number.NaN, 1),
    },
    topFunctions: rank(byFunction, busyUs, top),
    topAreas: rank(byArea, busyUs, top),
  };
};

/** The .cpuprofile files in `dir`, newest last. */
export const profilesIn = (dir) =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((name) => name.endsWith(".cpuprofile"))
        .sort()
        .map((name) => join(dir, name))
    : [];

export const formatProfile = (summary, indent = "    ") =>
  [
    summary.processes === undefined
      ? `${indent}profile ${shorten(summary.file)} (${summary.totalMs} ms sampled, ${summary.busyMs} ms not idle)`
      : `${indent}profiles of ${summary.processes} processes in ${shorten(summary.file)}: ${summary.busyMs} ms of ` +
        `non-idle samples in all (per process: median ${summary.busyPerProcessMs.median} ms, max ` +
        `${summary.busyPerProcessMs.max} ms; this includes time spent runnable but waiting for a CPU, so it is a ` +
        `distribution, not a CPU time — see CPU/proc in the herd table)`,
    `${indent}by area (self time):`,
    ...summary.topAreas
      .slice(0, 8)
      .map((a) => `${indent}  ${String(a.selfMs).padStart(8)} ms ${String(a.pct).padStart(5)} %  ${a.name}`),
    `${indent}top functions (self time):`,
    ...summary.topFunctions.map(
      (f) => `${indent}  ${String(f.selfMs).padStart(8)} ms ${String(f.pct).padStart(5)} %  ${f.name}`,
    ),
  ].join("\n");
