/**
 * The on-disk format of the event log and this process's incremental view of it. One record per line:
 *
 *   <8 hex of the CRC32 of the JSON bytes> <JSON of the encoded AccountEvent>\n
 *
 * A line is valid when its checksum, JSON and schema (`decodeAccountEvent`) all check. A line whose checksum and JSON
 * check but whose `v` is newer than this build's event schema is a *future* record: written by a newer baton, whole,
 * just not readable here. {@link refreshLog} keeps, per log file, the parsed events, the highest seq, the invalid
 * complete lines, the future records and the offset scanned so far, and reads only bytes
 * appended since; it starts over when the inode changes, the file shrinks, it was rewritten in place (same size, other
 * mtime) or the last scanned line's bytes differ. {@link judge} classifies the tail: clean, torn (only the last line is
 * bad or unterminated, and it is not a future record) or corrupt (anything else — a future record is never cut off as
 * a torn tail: the log goes to quarantine like corruption, a copy kept).
 */
import { fstatSync, readSync, type Stats } from "node:fs";
import { crc32 } from "node:zlib";
import { type AccountEvent, decodeAccountEvent, EVENT_SCHEMA_VERSION, encodeAccountEvent } from "@baton/core";
import { Exit } from "effect";

/** The 8-hex CRC32 of `bytes`. */
export const checksum = (bytes: Uint8Array): string => crc32(bytes).toString(16).padStart(8, "0");

/** A checksummed line: `<8 hex of the CRC32 of the JSON bytes> <JSON of value>\n` (JSON never holds a raw newline). */
export const formatCheckedLine = (value: unknown): string => {
  const json = JSON.stringify(value);
  return `${checksum(Buffer.from(json, "utf8"))} ${json}\n`;
};

/** The value of one checksummed line (without its "\n"), or `undefined` when its checksum or JSON is wrong. */
export const parseCheckedLine = (line: Uint8Array): unknown => {
  if (line.length < 10 || line[8] !== 0x20) return undefined;
  const body = line.subarray(9);
  if (checksum(body) !== Buffer.from(line.subarray(0, 8)).toString("latin1")) return undefined;
  try {
    return JSON.parse(Buffer.from(body).toString("utf8"));
  } catch {
    return undefined;
  }
};

/** The log line of one encoded event. */
export const formatLine = (event: AccountEvent): string => formatCheckedLine(encodeAccountEvent(event));

/** The event of one line (without its "\n"), or `undefined` when its checksum, JSON or schema is wrong. */
export const parseLine = (line: Uint8Array): AccountEvent | undefined => {
  const json = parseCheckedLine(line);
  if (json === undefined) return undefined;
  const decoded = decodeAccountEvent(json);
  return Exit.isSuccess(decoded) ? decoded.value : undefined;
};

/** One line judged: an event, a whole record of a newer schema version (`future`), or invalid. */
export type LineVerdict =
  | { readonly kind: "event"; readonly event: AccountEvent }
  | { readonly kind: "future"; readonly version: number }
  | { readonly kind: "invalid" };

export const judgeLine = (line: Uint8Array): LineVerdict => {
  const json = parseCheckedLine(line);
  if (json === undefined) return { kind: "invalid" };
  const decoded = decodeAccountEvent(json);
  if (Exit.isSuccess(decoded)) return { kind: "event", event: decoded.value };
  const version = typeof json === "object" && json !== null && "v" in json ? json.v : undefined;
  return typeof version === "number" && Number.isInteger(version) && version > EVENT_SCHEMA_VERSION
    ? { kind: "future", version }
    : { kind: "invalid" };
};

/** The warning for records written by a newer baton, shared by `read` and the repair. */
export const futureRecordsWarning = (path: string, count: number, newest: number): string =>
  `${path}: ${count} record(s) written by a newer baton (event schema version ${newest}; this build reads version ` +
  `${EVENT_SCHEMA_VERSION}) are skipped; the next append moves a copy of the log to quarantine`;

/** The warning for invalid log lines followed by others, shared by `read` and `fold`. */
export const corruptRecordsWarning = (path: string, count: number): string =>
  `${path}: skipping ${count} corrupt record(s); the next append moves a copy to quarantine and repairs the log`;

export interface Range {
  readonly start: number;
  readonly end: number;
}

/** What this process knows about one log file. */
export interface LogState {
  readonly dev: number;
  readonly ino: number;
  /** Size and mtime at the last look: the same size with another mtime means a rewrite in place. */
  size: number;
  mtimeMs: number;
  /** Offset just after the last complete line scanned. */
  end: number;
  readonly events: Array<AccountEvent>;
  maxSeq: number;
  /** Invalid complete lines (not future records). */
  readonly bad: Array<Range>;
  /** Complete records of a newer schema version, and the newest version among them. */
  readonly future: Array<Range>;
  newestFuture: number;
  /** The last complete line's bytes and offset, to notice a file rewritten under the same inode. */
  lastLine: Buffer | undefined;
  lastLineStart: number;
  warnedBad: number;
  warnedFuture: number;
}

/**
 * The logs this process looked at, most recently used last. Bounded: a process that reads every account once (e.g.
 * `baton status` over a thousand accounts) must not keep every parsed stream alive.
 */
const cache = new Map<string, LogState>();
const CACHED_LOGS = 64;

const remember = (path: string, state: LogState): void => {
  cache.delete(path);
  cache.set(path, state);
  if (cache.size > CACHED_LOGS) {
    const oldest = cache.keys().next();
    if (oldest.done !== true) cache.delete(oldest.value);
  }
};

/**
 * Reads `length` bytes at `start` from the open descriptor `fd` (fewer at the end of the file). Synchronous, like
 * every read of the log: logs are small (a few hundred bytes per event) and a synchronous read of a local file costs a
 * fraction of the CPU of the promise path (see secure-read.ts).
 */
export const readRange = (fd: number, start: number, length: number): Buffer => {
  const buffer = Buffer.alloc(length);
  let offset = 0;
  while (offset < length) {
    const bytesRead = readSync(fd, buffer, offset, length - offset, start + offset);
    if (bytesRead === 0) break;
    offset += bytesRead;
  }
  return offset === length ? buffer : buffer.subarray(0, offset);
};

/** Parses the complete lines of `chunk` (which starts at file offset `base`) into `state`. */
const scanChunk = (state: LogState, chunk: Buffer, base: number): void => {
  let lineStart = 0;
  let last: Range | undefined;
  for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, lineStart)) {
    const verdict = judgeLine(chunk.subarray(lineStart, nl));
    if (verdict.kind === "event") {
      state.events.push(verdict.event);
      if (verdict.event.seq > state.maxSeq) state.maxSeq = verdict.event.seq;
    } else if (verdict.kind === "future") {
      state.future.push({ start: base + lineStart, end: base + nl + 1 });
      state.newestFuture = Math.max(state.newestFuture, verdict.version);
    } else state.bad.push({ start: base + lineStart, end: base + nl + 1 });
    last = { start: lineStart, end: nl + 1 };
    lineStart = nl + 1;
  }
  if (last !== undefined) {
    state.lastLine = Buffer.from(chunk.subarray(last.start, last.end));
    state.lastLineStart = base + last.start;
    state.end = base + last.end;
  }
};

/**
 * Brings the cached state of `path` up to date with the file open as `fd` (whose `fstat` the caller may already
 * have); returns it and the file size.
 */
export const refreshLog = (
  path: string,
  fd: number,
  stats: Stats = fstatSync(fd),
): { state: LogState; size: number } => {
  let state = cache.get(path);
  const stale =
    state === undefined ||
    state.dev !== stats.dev ||
    state.ino !== stats.ino ||
    stats.size < state.end ||
    (stats.size === state.size && stats.mtimeMs !== state.mtimeMs) ||
    (state.lastLine !== undefined && !readRange(fd, state.lastLineStart, state.lastLine.length).equals(state.lastLine));
  if (stale || state === undefined) {
    state = {
      dev: stats.dev,
      ino: stats.ino,
      size: 0,
      mtimeMs: 0,
      end: 0,
      events: [],
      maxSeq: 0,
      bad: [],
      future: [],
      newestFuture: 0,
      lastLine: undefined,
      lastLineStart: 0,
      warnedBad: 0,
      warnedFuture: 0,
    };
  }
  remember(path, state);
  if (stats.size > state.end) scanChunk(state, readRange(fd, state.end, stats.size - state.end), state.end);
  state.size = stats.size;
  state.mtimeMs = stats.mtimeMs;
  return { state, size: stats.size };
};

export type Verdict =
  | { readonly kind: "clean" }
  | { readonly kind: "torn-tail"; readonly cutAt: number; readonly dropped: number; readonly partial: boolean }
  | { readonly kind: "corrupt" };

export const judge = (state: LogState, size: number): Verdict => {
  if (state.future.length > 0) return { kind: "corrupt" };
  const partial = size - state.end;
  const [only, ...more] = state.bad;
  if (only === undefined) {
    return partial === 0 ? { kind: "clean" } : { kind: "torn-tail", cutAt: state.end, dropped: partial, partial: true };
  }
  if (more.length === 0 && partial === 0 && only.end === state.end) {
    return { kind: "torn-tail", cutAt: only.start, dropped: only.end - only.start, partial: false };
  }
  return { kind: "corrupt" };
};

/** Drops what this process cached about `path` (after it changed the file other than by appending). */
export const forgetLog = (path: string): void => {
  cache.delete(path);
};
