/**
 * Shared pieces of the benchmark suite: paths, statistics, bounded child processes and a text table.
 * Benchmarks are not tests: nothing here asserts, everything is measured and reported.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startProcess } from "../../support/child-process.ts";

export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const ROOT = join(BENCH_DIR, "..", "..");
export const BATON = join(ROOT, "packages", "cli", "dist", "baton.mjs");
export const NODE = process.execPath;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

export const median = (values) => quantile(values, 0.5);

export const quantile = (values, q) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
};

export const round = (value, digits = 0) => {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
};

/** Every child process started by the suite, so a watchdog can end them (by pid, one by one). */
const live = new Set();

export const killAllChildren = () => {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
};

/**
 * Starts `node ARGS` (test/support/child-process.ts) from the repository root with NO_COLOR=1 and a hard time limit;
 * `onLine(stream, line, at)` sees each complete stdout/stderr line with the parent's `performance.now()` at its
 * arrival. Resolves when the process has closed.
 */
export const startNode = (args, options = {}) => {
  const started = startProcess(NODE, args, {
    ...options,
    env: { NO_COLOR: "1", ...options.env },
    cwd: options.cwd ?? ROOT,
    timeoutMs: options.timeoutMs ?? 60_000,
  });
  live.add(started.child);
  started.done.then(() => live.delete(started.child));
  return started;
};

export const runNode = (args, options = {}) => startNode(args, options).done;

/** Runs `baton ARGS` (the bundled CLI) on `home`. */
export const runBaton = (args, home, options = {}) =>
  runNode([BATON, ...args], {
    ...options,
    env: { BATON_HOME: home, BATON_STORAGE: "file", ...options.env },
  });

export const fail = (what, result) => {
  throw new Error(`${what} exited ${result.code} (signal ${result.signal}): ${result.stderr.trim().slice(0, 2000)}`);
};

/** A plain text table: `rows` are arrays of cells; numbers are right-aligned. */
export const table = (header, rows) => {
  const cells = [header, ...rows].map((row) => row.map((cell) => (cell === undefined ? "" : String(cell))));
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? "").length)));
  const numeric = header.map((_, column) =>
    rows.every((row) => typeof row[column] === "number" || /^[-\d.,×%~ms/]*$/.test(String(row[column] ?? ""))),
  );
  const line = (row) =>
    row
      .map((cell, column) => (numeric[column] ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
      .join("  ");
  return [line(cells[0]), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
};

export const fmtMs = (ms) => (Number.isFinite(ms) ? `${Math.round(ms)} ms` : "-");
export const fmtRatio = (ratio) => (Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : "-");
export const fmtRate = (perSecond) =>
  perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M/s` : `${Math.round(perSecond / 1000).toLocaleString("en")} k/s`;
