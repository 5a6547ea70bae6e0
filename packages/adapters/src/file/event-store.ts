/**
 * The file event store: `accounts/<provider>/<account>/events.log`, one checksummed JSON record per line (the format
 * and the incremental scan are in event-log.ts).
 *
 * `append` (called by the protocol under the account lock) numbers the new events after the highest stored `seq`,
 * writes all their lines in ONE `write` on an `O_APPEND` descriptor and `fdatasync`s it. Before that it validates the
 * tail (I7):
 * - a torn or bad LAST line (checksum, JSON, schema) is truncated away and a `log.repaired` event (reason "torn-tail",
 *   `droppedBytes`) is written before the new events. An unterminated tail is re-checked after a short settle time so
 *   that a line another process is writing at that instant is not mistaken for a torn one;
 * - any other invalid line (one followed by further lines) means corruption: the whole file is copied to
 *   `quarantine/`, the log is rewritten atomically with only its valid lines plus a `log.repaired` event (reason
 *   "corrupt", `droppedBytes`, `quarantinedTo` relative to BATON_HOME), and a warning is logged.
 * `fold` resumes the lifecycle fold from a checkpoint beside the log (fold-checkpoint.ts), after checking it.
 * `read` never changes the file's content: it skips a torn tail silently and skips (with a warning) invalid middle
 * lines. A whole record of a newer schema version (written by a newer baton) is skipped with a warning wherever it
 * is, and never truncated as a torn tail: the next append treats the log as corrupt — a copy of the whole file in
 * quarantine/, the log rewritten with the records this build reads plus `log.repaired` reason "corrupt" with
 * `quarantinedTo` (the reason list of this schema version has no better word, and a new word would itself be a
 * record older builds cannot read). The account keeps working: safety rests on the secret store's compare-and-set
 * and the claims, not on the events, so skipping a record this build cannot read never presents a token twice, and
 * a newer baton can take the record back from the copy. Reads and appends of one file
 * are serialized within the process; across processes appends rely on the account lock, and even without it
 * concurrent appends never interleave (one `write` per batch on `O_APPEND`), though their seqs may then repeat.
 *
 * The `log.repaired` event takes `host`/`pid` from the HostIdentity service and `at` from Effect's Clock, like every
 * other event the protocol writes.
 *
 * Diagnostic notes (flights and hand-outs, which `replay` draws; see the port) go to `notes.log` beside the log, in the same
 * checksummed-line format: one `write` on an `O_APPEND` descriptor per note, no sync, no lock, errors ignored — a
 * note costs a few tens of microseconds and never delays the protocol.
 */
import { closeSync, constants, ftruncateSync, readFileSync, writeSync } from "node:fs";
import { join, relative, sep } from "node:path";
import {
  type AccountEvent,
  type AccountRef,
  type DiagnosticNote,
  decodeDiagnosticNote,
  EventStore,
  type EventStoreShape,
  encodeAccountEvent,
  type FoldPurpose,
  HostIdentity,
  type NewAccountEvent,
  resumeFold,
  type StoreFailure,
  type StreamFold,
} from "@baton/core";
import { Clock, Effect, Exit, Layer } from "effect";
import {
  corruptRecordsWarning,
  forgetLog,
  formatCheckedLine,
  formatLine,
  futureRecordsWarning,
  judge,
  judgeLine,
  parseCheckedLine,
  readRange,
  refreshLog,
} from "./event-log.ts";
import { type FoldOptions, foldLogFile } from "./fold-checkpoint.ts";
import {
  accountParts,
  copyToQuarantine,
  describeAccount,
  fsyncDir,
  listAccounts,
  lstatSyncOrUndefined,
  openSecureSync,
  replaceAtomically,
  runFs,
  runFsSync,
  secureDir,
  secureDirSync,
  syncDescriptor,
  type Warn,
  withMutex,
} from "./paths.ts";

export { checksum, formatLine, judgeLine, parseLine } from "./event-log.ts";

export const EVENTS_FILE = "events.log";
export const NOTES_FILE = "notes.log";
/** How long an unterminated last line must stay unchanged before it counts as torn. */
export const TORN_TAIL_SETTLE_MS = 20;

export interface FileEventStoreOptions extends FoldOptions {
  /** BATON_HOME. */
  readonly home: string;
}

/** Stamps for the `log.repaired` event. */
interface Stamp {
  readonly at: number;
  readonly host: string;
  readonly pid: number;
}

/** Rewrites a corrupt log with its valid lines plus a `log.repaired` event; returns the warning to log. */
const rewriteCorrupt = async (home: string, path: string, account: AccountRef, stamp: Stamp, warn: Warn) => {
  const quarantined = await copyToQuarantine(home, path, account, warn);
  const opened = openSecureSync(path, warn);
  if (opened === undefined) return;
  let content: Buffer;
  try {
    content = readRange(opened.fd, 0, opened.stats.size);
  } finally {
    closeSync(opened.fd);
  }
  const kept: Array<Buffer> = [];
  let maxSeq = 0;
  let bad = 0;
  let future = 0;
  let newestFuture = 0;
  let lineStart = 0;
  for (let nl = content.indexOf(0x0a); nl >= 0; nl = content.indexOf(0x0a, lineStart)) {
    const verdict = judgeLine(content.subarray(lineStart, nl));
    if (verdict.kind === "event") {
      kept.push(content.subarray(lineStart, nl + 1));
      maxSeq = Math.max(maxSeq, verdict.event.seq);
    } else if (verdict.kind === "future") {
      future += 1;
      newestFuture = Math.max(newestFuture, verdict.version);
    } else bad += 1;
    lineStart = nl + 1;
  }
  const keptBytes = kept.reduce((sum, line) => sum + line.length, 0);
  const repaired: AccountEvent = {
    v: 1,
    seq: maxSeq + 1,
    ...stamp,
    type: "log.repaired",
    reason: "corrupt",
    droppedBytes: content.length - keptBytes,
    quarantinedTo: relative(home, quarantined),
  };
  await replaceAtomically(path, Buffer.concat([...kept, Buffer.from(formatLine(repaired), "utf8")]));
  forgetLog(path);
  const held = [
    ...(bad > 0 ? [`${bad} corrupt record(s)`] : []),
    ...(future > 0 ? [`${future} record(s) written by a newer baton (event schema version ${newestFuture})`] : []),
    ...(lineStart < content.length ? ["a torn tail"] : []),
  ];
  warn(
    `${path} held ${held.join(" and ")}; ` +
      `the whole file was copied to ${quarantined} and the log rewritten with its ${kept.length} readable record(s)`,
  );
};

const appendToFile = async (
  home: string,
  account: AccountRef,
  events: ReadonlyArray<NewAccountEvent>,
  stamp: Stamp,
  warn: Warn,
): Promise<ReadonlyArray<AccountEvent>> => {
  const dir = (await secureDir(home, accountParts(home, account), true, warn)) ?? describeAccount(home, account);
  const path = join(dir, EVENTS_FILE);
  const existed = lstatSyncOrUndefined(path) !== undefined;
  // Synchronous calls except the fdatasync (secure-write.ts: each trip through the thread pool costs a wake-up).
  const flags = constants.O_RDWR | constants.O_APPEND | constants.O_CREAT;
  let fd = openLog(path, flags, warn);
  try {
    if (!existed) await fsyncDir(dir);
    const repairs: Array<NewAccountEvent> = [];
    let { state, size } = refreshLog(path, fd);
    let verdict = judge(state, size);
    if (verdict.kind === "torn-tail" && verdict.partial) {
      // A line being written right now looks torn; a torn one stays as it is.
      await new Promise((settled) => setTimeout(settled, TORN_TAIL_SETTLE_MS));
      ({ state, size } = refreshLog(path, fd));
      verdict = judge(state, size);
    }
    if (verdict.kind === "torn-tail") {
      ftruncateSync(fd, verdict.cutAt);
      forgetLog(path);
      ({ state } = refreshLog(path, fd));
      repairs.push({ v: 1, ...stamp, type: "log.repaired", reason: "torn-tail", droppedBytes: verdict.dropped });
      warn(`${path} had a torn or invalid last record; ${verdict.dropped} byte(s) truncated`);
    } else if (verdict.kind === "corrupt") {
      await rewriteCorrupt(home, path, account, stamp, warn);
      closeSync(fd);
      fd = -1;
      fd = openLog(path, flags, warn, "disappeared while it was being repaired");
      ({ state } = refreshLog(path, fd));
    }
    const stored = [...repairs, ...events].map((event, i) => ({ ...event, seq: state.maxSeq + i + 1 }) as AccountEvent);
    const bytes = Buffer.from(stored.map(formatLine).join(""), "utf8");
    const bytesWritten = writeSync(fd, bytes, 0, bytes.length, null);
    if (bytesWritten !== bytes.length) throw new Error(`short write (${bytesWritten} of ${bytes.length} bytes)`);
    await syncDescriptor(fd, true);
    refreshLog(path, fd);
    return stored.slice(repairs.length);
  } catch (error) {
    forgetLog(path);
    throw error;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
};

/** The log opened for appending (created when absent). */
const openLog = (path: string, flags: number, warn: Warn, missing = "could not be opened"): number => {
  const opened = openSecureSync(path, warn, flags);
  if (opened === undefined) throw new Error(`${path} ${missing}`);
  return opened.fd;
};

const readFromFile = (home: string, account: AccountRef, warn: Warn): ReadonlyArray<AccountEvent> => {
  const dir = secureDirSync(home, accountParts(home, account), warn);
  if (dir === undefined) return [];
  const path = join(dir, EVENTS_FILE);
  const opened = openSecureSync(path, warn);
  if (opened === undefined) return [];
  const { fd } = opened;
  try {
    const { state } = refreshLog(path, fd, opened.stats);
    const middle = state.bad.filter((range) => range.end < state.end).length;
    if (middle > state.warnedBad) {
      warn(corruptRecordsWarning(path, middle));
      state.warnedBad = middle;
    }
    if (state.future.length > state.warnedFuture) {
      warn(futureRecordsWarning(path, state.future.length, state.newestFuture));
      state.warnedFuture = state.future.length;
    }
    return state.events.slice();
  } finally {
    closeSync(fd);
  }
};

export const make = (
  options: FileEventStoreOptions,
  host: { readonly host: string; readonly pid: number },
): EventStoreShape => {
  const { home } = options;
  const where = (account: AccountRef) => `${describeAccount(home, account)}${sep}${EVENTS_FILE}`;

  const append = (
    account: AccountRef,
    events: ReadonlyArray<NewAccountEvent>,
  ): Effect.Effect<ReadonlyArray<AccountEvent>, StoreFailure> =>
    Effect.gen(function* () {
      if (events.length === 0) return [];
      // A malformed event is a bug in the caller, not a storage failure.
      yield* Effect.try({
        try: () => events.map((event) => encodeAccountEvent({ ...event, seq: 1 } as AccountEvent)),
        catch: (error) => error,
      }).pipe(Effect.orDie);
      const at = yield* Clock.currentTimeMillis;
      return yield* runFs("append to the event log", where(account), (warn) =>
        appendToFile(home, account, events, { at, host: host.host, pid: host.pid }, warn),
      ).pipe(withMutex(where(account)));
    });

  const read = (account: AccountRef): Effect.Effect<ReadonlyArray<AccountEvent>, StoreFailure> =>
    runFsSync("read the event log", where(account), (warn) => readFromFile(home, account, warn)).pipe(
      withMutex(where(account)),
    );

  // No mutex: the fold reads the file's bytes once (never the parsed cache appends update) and only replaces the
  // checkpoint, atomically.
  const fold = (
    account: AccountRef,
    thresholdMs: number,
    purpose: FoldPurpose,
  ): Effect.Effect<StreamFold, StoreFailure> =>
    runFsSync("fold the event log", where(account), (warn) => {
      const dir = secureDirSync(home, accountParts(home, account), warn);
      return dir === undefined
        ? resumeFold(undefined, [], thresholdMs)
        : foldLogFile(dir, EVENTS_FILE, thresholdMs, purpose, options, warn);
    });

  const accounts = (): Effect.Effect<ReadonlyArray<AccountRef>, StoreFailure> =>
    runFs("list the accounts in", join(home, "accounts"), (warn) => listAccounts(home, EVENTS_FILE, warn));

  const note = (account: AccountRef, diagnostic: DiagnosticNote): Effect.Effect<void> =>
    runFsSync("write a note in", where(account), (warn) => {
      const dir = secureDirSync(home, accountParts(home, account), warn);
      if (dir === undefined) return;
      const opened = openSecureSync(
        join(dir, NOTES_FILE),
        warn,
        constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT,
      );
      if (opened === undefined) return;
      try {
        writeSync(opened.fd, formatCheckedLine(diagnostic));
      } finally {
        closeSync(opened.fd);
      }
    }).pipe(Effect.ignore);

  const notes = (account: AccountRef): Effect.Effect<ReadonlyArray<DiagnosticNote>, StoreFailure> =>
    runFsSync("read the notes in", where(account), (warn) => {
      const dir = secureDirSync(home, accountParts(home, account), warn);
      const opened = dir === undefined ? undefined : openSecureSync(join(dir, NOTES_FILE), warn);
      if (opened === undefined) return [];
      let content: Buffer;
      try {
        content = readFileSync(opened.fd);
      } finally {
        closeSync(opened.fd);
      }
      const found: Array<DiagnosticNote> = [];
      let start = 0;
      for (let nl = content.indexOf(0x0a); nl >= 0; nl = content.indexOf(0x0a, start)) {
        const decoded = decodeDiagnosticNote(parseCheckedLine(content.subarray(start, nl)));
        if (Exit.isSuccess(decoded)) found.push(decoded.value);
        start = nl + 1;
      }
      return found;
    });

  return { append, read, fold, accounts, note, notes };
};

/** The file event store as a layer; needs HostIdentity (for the `log.repaired` event's host and pid). */
export const layer = (options: FileEventStoreOptions): Layer.Layer<EventStore, never, HostIdentity> =>
  Layer.effect(
    EventStore,
    Effect.gen(function* () {
      const host = yield* HostIdentity;
      return EventStore.of(make(options, host));
    }),
  );
