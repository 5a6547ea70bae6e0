/**
 * The file event store's fold checkpoints (events.fold) against real files: whatever happens to the log and to the
 * checkpoint — appends, a corrupt middle line (repaired by the next append: the log is rewritten), a torn tail, a
 * garbage or stale checkpoint — `fold` equals the full fold of `read`. The same property run with every checkpoint's
 * proof forged before each fold (its prefix checksum rewritten to match whatever the log now holds, which is what
 * trusting a checkpoint without checking the prefix amounts to) must find a counterexample.
 */
import { copyFileSync, existsSync, readFileSync, statSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type AccountEvent,
  DEFAULT_THRESHOLD_MS,
  type FoldPurpose,
  type NewAccountEvent,
  resumeFold,
  type StreamFold,
} from "@baton/core";
import { Effect, Logger } from "effect";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checksum, formatCheckedLine, parseCheckedLine } from "../../src/file/event-log.ts";
import { make } from "../../src/file/event-store.ts";
import { FOLD_FILE } from "../../src/file/fold-checkpoint.ts";
import { account, makeHome } from "./helpers.ts";

let home: string;
let cleanup: () => void;
beforeEach(() => {
  ({ home, cleanup } = makeHome());
});
afterEach(() => cleanup());

const dir = () => join(home, "accounts", "github", "work");
const logPath = () => join(dir(), "events.log");
const checkpointPath = () => join(dir(), FOLD_FILE);
const host = { host: "h", pid: 1 };

const fp = fc.stringMatching(/^[0-9a-f]{8}$/);
const generation = fc.integer({ min: 1, max: 6 });
const envelope = {
  v: fc.constant(1 as const),
  at: fc.integer({ min: 0, max: 10_000_000 }),
  host: fc.constant("h"),
  pid: fc.constant(1),
};
const newEvent: fc.Arbitrary<NewAccountEvent> = fc.oneof(
  fc.record({
    ...envelope,
    type: fc.constant("credentials.stored" as const),
    generation,
    source: fc.constantFrom("login" as const, "refresh" as const),
    accessFp: fp,
    expiresAt: fc.integer({ min: 0, max: 20_000_000 }),
  }),
  fc.record({ ...envelope, type: fc.constant("refresh.claimed" as const), generation, attempt: fc.constant(1) }),
  fc.record({ ...envelope, type: fc.constant("refresh.failed" as const), generation, reason: fc.constant("network") }),
  fc.record({
    ...envelope,
    type: fc.constant("refresh.rejected" as const),
    generation,
    error: fc.constant("invalid_grant"),
  }),
  fc.record({ ...envelope, type: fc.constant("lock.waited" as const), waitedMs: fc.nat({ max: 500 }) }),
);

type Op =
  | { readonly kind: "append"; readonly events: ReadonlyArray<NewAccountEvent> }
  | { readonly kind: "fold"; readonly after: number; readonly purpose: FoldPurpose }
  | { readonly kind: "corrupt-middle"; readonly line: number }
  | { readonly kind: "tear-tail"; readonly bytes: number }
  | { readonly kind: "garbage-checkpoint"; readonly text: string }
  | { readonly kind: "save-checkpoint" }
  | { readonly kind: "restore-saved-checkpoint" };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("append" as const),
      events: fc.array(newEvent, { minLength: 1, maxLength: 4 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("fold" as const),
      after: fc.integer({ min: 1, max: 4 }),
      purpose: fc.constantFrom<FoldPurpose>("refresh", "read"),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("corrupt-middle" as const), line: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("tear-tail" as const), bytes: fc.integer({ min: 1, max: 40 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("garbage-checkpoint" as const), text: fc.string() }) },
  { weight: 1, arbitrary: fc.constant({ kind: "save-checkpoint" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "restore-saved-checkpoint" as const }) },
);

/** Flips a byte inside the JSON of a line that is not the last one (the next append quarantines and rewrites). */
const corruptMiddle = (which: number) => {
  const bytes = readFileSync(logPath());
  const ends: Array<number> = [];
  for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) ends.push(i);
  if (ends.length < 2) return;
  const line = which % (ends.length - 1);
  const start = line === 0 ? 0 : (ends[line - 1] as number) + 1;
  const at = start + 12;
  bytes[at] = (bytes[at] as number) ^ 0x01;
  writeFileSync(logPath(), bytes);
};

/** Runs `effect` with the corruption warnings (expected here) collected instead of printed. */
const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(Effect.provide(effect, Logger.layer([])));

/**
 * Rewrites the checkpoint's `prefixCrc` to the checksum of the log's first `offset` bytes as they are now: the
 * checkpoint then "proves" any prefix, so the store's check passes whether or not the prefix is the one folded.
 */
const forgeProof = () => {
  if (!existsSync(checkpointPath()) || !existsSync(logPath())) return;
  const line = readFileSync(checkpointPath());
  const record = parseCheckedLine(line.subarray(0, line.length - 1));
  if (typeof record !== "object" || record === null || !("offset" in record)) return;
  const log = readFileSync(logPath());
  const { offset } = record as { readonly offset: unknown };
  if (typeof offset !== "number" || offset > log.length) return;
  writeFileSync(checkpointPath(), formatCheckedLine({ ...record, prefixCrc: checksum(log.subarray(0, offset)) }));
};

/**
 * Runs the ops; after every one, `fold` (which may write a checkpoint) must equal the full fold of `read`. With
 * `forged`, the checkpoint's proof is forged before each fold.
 */
const runOps = async (ops: ReadonlyArray<Op>, forged: boolean): Promise<void> => {
  const saved = join(home, "saved-checkpoint");
  const store = (checkpointAfter: number) => make({ home, checkpointAfter }, host);
  for (const step of ops) {
    switch (step.kind) {
      case "append":
        await run(store(1).append(account, step.events));
        break;
      case "corrupt-middle":
        if (existsSync(logPath())) corruptMiddle(step.line);
        break;
      case "tear-tail":
        if (existsSync(logPath())) writeFileSync(logPath(), `{"partial":${"x".repeat(step.bytes)}`, { flag: "a" });
        break;
      case "garbage-checkpoint":
        if (existsSync(dir())) writeFileSync(checkpointPath(), step.text, { mode: 0o600 });
        break;
      case "save-checkpoint":
        if (existsSync(checkpointPath())) copyFileSync(checkpointPath(), saved);
        break;
      case "restore-saved-checkpoint":
        if (existsSync(saved) && existsSync(dir())) copyFileSync(saved, checkpointPath());
        break;
      case "fold":
        break;
    }
    if (forged) forgeProof();
    const after = step.kind === "fold" ? step.after : 1_000;
    const purpose = step.kind === "fold" ? step.purpose : "read";
    const folded: StreamFold = await run(store(after).fold(account, DEFAULT_THRESHOLD_MS, purpose));
    const events: ReadonlyArray<AccountEvent> = await run(store(after).read(account));
    const full = resumeFold(undefined, events, DEFAULT_THRESHOLD_MS);
    expect(folded.events).toBe(full.events);
    expect(folded.snapshot.value).toEqual(full.snapshot.value);
    expect(folded.snapshot.context).toEqual(full.snapshot.context);
  }
};

describe("file event store fold checkpoints", () => {
  it("fold - should equal the full fold of read after any appends, repairs and checkpoint damage", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        cleanup();
        ({ home, cleanup } = makeHome());
        await runOps(ops, false);
      }),
      { numRuns: 120 },
    );
  }, 120_000);

  it("fold - given checkpoints whose proof is forged (as if unchecked), should be caught", async () => {
    const result = await fc.check(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        cleanup();
        ({ home, cleanup } = makeHome());
        await runOps(ops, true);
      }),
      { numRuns: 300 },
    );
    expect(result.failed).toBe(true);
  }, 120_000);

  it("fold - should write a 0600 checkpoint after enough events and resume from it", async () => {
    const store = make({ home, checkpointAfter: 3 }, host);
    const waited = (ms: number): NewAccountEvent => ({
      v: 1,
      at: ms,
      host: "h",
      pid: 1,
      type: "lock.waited",
      waitedMs: ms,
    });
    await Effect.runPromise(store.append(account, [waited(1), waited(2)]));
    await Effect.runPromise(store.fold(account, DEFAULT_THRESHOLD_MS, "read"));
    expect(existsSync(checkpointPath())).toBe(false);
    await Effect.runPromise(store.append(account, [waited(3)]));
    const folded = await Effect.runPromise(store.fold(account, DEFAULT_THRESHOLD_MS, "read"));
    expect(folded.events).toBe(3);
    expect(statSync(checkpointPath()).mode & 0o777).toBe(0o600);
    const checkpoint = readFileSync(checkpointPath(), "utf8");
    expect(checkpoint).toMatch(/^[0-9a-f]{8} \{.*"events":3.*\}\n$/);
    // Resumed: the two events appended since are all that is folded, and no new checkpoint is due yet.
    await Effect.runPromise(store.append(account, [waited(4), waited(5)]));
    expect((await Effect.runPromise(store.fold(account, DEFAULT_THRESHOLD_MS, "read"))).events).toBe(5);
    expect(readFileSync(checkpointPath(), "utf8")).toBe(checkpoint);
  });

  it("fold - should write a checkpoint after 16 events for a refresh, only after 256 for a read", async () => {
    const store = make({ home }, host);
    const waits = (n: number): Array<NewAccountEvent> =>
      Array.from({ length: n }, (_, i) => ({ v: 1, at: i, host: "h", pid: 1, type: "lock.waited", waitedMs: i }));
    await Effect.runPromise(store.append(account, waits(100)));
    await Effect.runPromise(store.fold(account, DEFAULT_THRESHOLD_MS, "read"));
    expect(existsSync(checkpointPath())).toBe(false);
    await Effect.runPromise(store.fold(account, DEFAULT_THRESHOLD_MS, "refresh"));
    expect(readFileSync(checkpointPath(), "utf8")).toContain('"events":100');
    await Effect.runPromise(store.append(account, waits(300)));
    await Effect.runPromise(store.fold(account, DEFAULT_THRESHOLD_MS, "read"));
    expect(readFileSync(checkpointPath(), "utf8")).toContain('"events":400');
  });

  it("fold - should refuse a checkpoint that is a symbolic link", async () => {
    const store = make({ home, checkpointAfter: 1 }, host);
    await Effect.runPromise(
      store.append(account, [{ v: 1, at: 1, host: "h", pid: 1, type: "lock.waited", waitedMs: 1 }]),
    );
    const target = join(home, "elsewhere");
    writeFileSync(target, "x");
    if (existsSync(checkpointPath())) unlinkSync(checkpointPath());
    symlinkSync(target, checkpointPath());
    const exit = await Effect.runPromiseExit(store.fold(account, DEFAULT_THRESHOLD_MS, "read"));
    expect(exit._tag).toBe("Failure");
    expect(JSON.stringify(exit)).toContain("symbolic link");
  });
});
