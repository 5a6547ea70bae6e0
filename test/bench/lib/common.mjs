/**
 * Shared pieces of the benchmark suite: paths, statistics, bounded child processes and a text table.
 * Benchmarks are not tests: nothing here asserts, everything is measured and reported.
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

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
 * Starts `node ARGS` with a hard time limit; `onLine(stream, line, at)` sees each complete stdout/stderr line with
 * the parent's `performance.now()` at its arrival. Resolves when the process has closed.
 */
export const startNode = (args, options = {}) => {
  const child = spawn(NODE, args, {
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdio: [options.stdin ?? "ignore", "pipe", "pipe"],
    cwd: options.cwd ?? ROOT,
  });
  live.add(child);
  const spawnedAt = performance.now();
  let stdout = "";
  let stderr = "";
  const partial = { stdout: "", stderr: "" };
  const feed = (stream, chunk) => {
    const at = performance.now();
    const text = chunk.toString("utf8");
    if (stream === "stdout") stdout += text;
    else stderr += text;
    if (options.onLine === undefined) return;
    partial[stream] += text;
    let newline = partial[stream].indexOf("\n");
    while (newline >= 0) {
      options.onLine(stream, partial[stream].slice(0, newline), at);
      partial[stream] = partial[stream].slice(newline + 1);
      newline = partial[stream].indexOf("\n");
    }
  };
  child.stdout.on("data", (chunk) => feed("stdout", chunk));
  child.stderr.on("data", (chunk) => feed("stderr", chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  const done = new Promise((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code: code ?? -1, signal, stdout, stderr, spawnedAt, endedAt: performance.now() });
    });
  });
  return { child, done, spawnedAt };
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
