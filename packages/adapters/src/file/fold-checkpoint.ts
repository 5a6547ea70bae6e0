/**
 * The file event store's fold checkpoints (core fold-checkpoint.ts): `accounts/<provider>/<account>/events.fold`
 * beside `events.log`, one line in the log's own format (`<crc32> <json>\n`). It holds the core's `PersistedFold`
 * plus the proof of the log prefix it covers: `offset` (the end of the last complete line folded), `prefixCrc` (the
 * CRC32 of the log's bytes before `offset`) and `bad` (the invalid lines in that prefix, still warned about).
 *
 * {@link foldLogFile} reads the whole log (a few hundred bytes per event; reading and checksumming are ~1 % of parsing
 * and folding it), and resumes from the checkpoint only when the prefix's bytes have exactly that checksum — a log
 * truncated, repaired or rewritten in any way falls back to the full fold. It then parses and folds only the lines
 * after the prefix, like `read` (invalid lines skipped, an unterminated tail ignored). When that was at least
 * {@link CHECKPOINT_AFTER_REFRESH} events for a refresh, or {@link CHECKPOINT_AFTER_READ} for a read, it writes a new
 * checkpoint: a cache, so also without the lock (by `baton status`), atomically (temp file + rename: readers see the old or the new one) and without fsync (one lost in a
 * crash, torn or corrupt, or written by another build, is ignored and rewritten on a later fold). Losing it costs
 * time, never data; a symlink at its path is refused like at every store path.
 */
import { closeSync, constants, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { sep } from "node:path";
import {
  type AccountEvent,
  type FoldPurpose,
  type PersistedFold,
  persistFold,
  restoreFold,
  resumeFold,
  type StreamFold,
} from "@baton/core";
import {
  checksum,
  corruptRecordsWarning,
  formatCheckedLine,
  parseCheckedLine,
  parseLine,
  readRange,
} from "./event-log.ts";
import { FILE_MODE, lstatSyncOrUndefined, openSecureSync, readSmallFile, tempName, type Warn } from "./paths.ts";

export const FOLD_FILE = "events.fold";
/**
 * Events a refresh's fold (under the lock, before a network call) goes through past the checkpoint before it writes
 * a new one: the write (~0.2–0.8 ms to create a file on this machine's disk) is small next to the refresh.
 */
export const CHECKPOINT_AFTER_REFRESH = 16;
/**
 * The same for a read (`baton status` folds every account): a checkpoint is written only where it saves more than it
 * costs — folding a few hundred events costs about what creating the file does.
 */
export const CHECKPOINT_AFTER_READ = 256;

export interface FoldOptions {
  /** Overrides {@link CHECKPOINT_AFTER_REFRESH} and {@link CHECKPOINT_AFTER_READ}. */
  readonly checkpointAfter?: number;
}

interface CheckpointRecord extends PersistedFold {
  readonly offset: number;
  readonly prefixCrc: string;
  readonly bad: number;
}

/** The checkpoint at `path` when it is a well-formed line; `undefined` when absent or unreadable as one. */
const readCheckpoint = (path: string, warn: Warn): CheckpointRecord | undefined => {
  // An `lstat` first: most logs have no checkpoint, and a failed `open` costs an exception (~10× the `lstat`).
  if (lstatSyncOrUndefined(path) === undefined) return undefined;
  const file = readSmallFile(path, warn);
  if (file === undefined) return undefined;
  const { bytes } = file;
  if (bytes[bytes.length - 1] !== 0x0a) return undefined;
  const record = parseCheckedLine(bytes.subarray(0, bytes.length - 1));
  if (typeof record !== "object" || record === null) return undefined;
  const { offset, prefixCrc, bad } = record as Partial<Record<keyof CheckpointRecord, unknown>>;
  const count = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
  return count(offset) && count(bad) && typeof prefixCrc === "string" ? (record as CheckpointRecord) : undefined;
};

/** Replaces the checkpoint at `path` (temp + rename, no fsync: a cache). Failures are ignored: the fold stands. */
const writeCheckpoint = (path: string, record: CheckpointRecord): void => {
  const line = formatCheckedLine(record);
  const temp = tempName(path);
  let fd: number | undefined;
  try {
    fd = openSync(
      temp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0),
      FILE_MODE,
    );
    writeSync(fd, line);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
  } catch {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // never created, or already renamed
    }
  }
};

/** Warned counts of invalid lines per log, so that a long-running host warns once per new corruption. */
const warned = new Map<string, number>();

/**
 * The fold of the log in `dir` with `thresholdMs`: from its checkpoint when the checkpoint proves the prefix, from
 * the start otherwise; writes a new checkpoint after `checkpointAfter` events or more.
 */
export const foldLogFile = (
  dir: string,
  logName: string,
  thresholdMs: number,
  purpose: FoldPurpose,
  options: FoldOptions,
  warn: Warn,
): StreamFold => {
  const logPath = `${dir}${sep}${logName}`;
  const opened = openSecureSync(logPath, warn);
  if (opened === undefined) return resumeFold(undefined, [], thresholdMs);
  let bytes: Buffer;
  try {
    bytes = readRange(opened.fd, 0, opened.stats.size);
  } finally {
    closeSync(opened.fd);
  }
  const checkpointPath = `${dir}${sep}${FOLD_FILE}`;
  const checkpoint = readCheckpoint(checkpointPath, warn);
  let from: StreamFold | undefined;
  let start = 0;
  let bad = 0;
  if (
    checkpoint !== undefined &&
    checkpoint.offset <= bytes.length &&
    checksum(bytes.subarray(0, checkpoint.offset)) === checkpoint.prefixCrc
  ) {
    from = restoreFold(checkpoint, thresholdMs);
    if (from !== undefined) {
      start = checkpoint.offset;
      bad = checkpoint.bad;
    }
  }
  const tail: Array<AccountEvent> = [];
  let end = start;
  let lastBad = false;
  for (let nl = bytes.indexOf(0x0a, end); nl >= 0; nl = bytes.indexOf(0x0a, end)) {
    const event = parseLine(bytes.subarray(end, nl));
    if (event === undefined) bad += 1;
    else tail.push(event);
    lastBad = event === undefined;
    end = nl + 1;
  }
  // As `read` does: invalid lines followed by others are corruption worth a warning; a bad last line is a torn tail.
  const middle = lastBad ? bad - 1 : bad;
  if (middle > (warned.get(logPath) ?? 0)) {
    warn(corruptRecordsWarning(logPath, middle));
    warned.set(logPath, middle);
  }
  const fold = resumeFold(from, tail, thresholdMs);
  // A prefix never ends on an invalid line (the next append may truncate it as a torn tail).
  const due = options.checkpointAfter ?? (purpose === "refresh" ? CHECKPOINT_AFTER_REFRESH : CHECKPOINT_AFTER_READ);
  if (!lastBad && tail.length >= due) {
    writeCheckpoint(checkpointPath, {
      ...persistFold(fold),
      offset: end,
      prefixCrc: checksum(bytes.subarray(0, end)),
      bad,
    });
  }
  return fold;
};
