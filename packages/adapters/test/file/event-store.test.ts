/**
 * The file event store against real temporary directories: numbering, torn-tail truncation, bit flips in the last
 * and in a middle line, read-only reads, unknown schema versions, symlink refusal, and appends from several processes
 * at once never interleaving.
 */
import { appendFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AccountEvent, EventStore, type NewAccountEvent } from "@baton/core";
import { Effect } from "effect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checksum, formatLine, parseLine } from "../../src/file/event-log.ts";
import { account, makeHome, runWith, startChild } from "./helpers.ts";

let home: string;
let cleanup: () => void;
beforeEach(() => {
  ({ home, cleanup } = makeHome());
});
afterEach(() => cleanup());

const logFile = () => join(home, "accounts", "github", "work", "events.log");
const waited = (waitedMs: number): NewAccountEvent => ({
  v: 1,
  at: 1000 + waitedMs,
  host: "h",
  pid: 1,
  type: "lock.waited",
  waitedMs,
});
const append = (...events: Array<NewAccountEvent>) =>
  runWith(
    home,
    EventStore.use((s) => s.append(account, events)),
  );
const read = (logs?: Array<string>) =>
  runWith(
    home,
    EventStore.use((s) => s.read(account)),
    logs,
  );
const lines = () =>
  readFileSync(logFile(), "utf8")
    .split("\n")
    .filter((l) => l.length > 0);

describe("file event store", () => {
  it("append - should number events after the last one and read them back", async () => {
    const first = await append(waited(1), waited(2));
    const second = await append(waited(3));
    expect(first.map((e) => e.seq)).toEqual([1, 2]);
    expect(second.map((e) => e.seq)).toEqual([3]);
    const events = await read();
    expect(events.map((e) => (e.type === "lock.waited" ? e.waitedMs : -1))).toEqual([1, 2, 3]);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    for (const line of lines()) expect(parseLine(Buffer.from(line))).toBeDefined();
    expect(lines()[0]).toMatch(/^[0-9a-f]{8} \{/);
  });

  it("append - should number after records another process appended", async () => {
    await append(waited(1));
    const foreign: AccountEvent = { ...(waited(2) as AccountEvent & { type: "lock.waited" }), seq: 41 };
    appendFileSync(logFile(), formatLine(foreign));
    const [next] = await append(waited(3));
    expect(next?.seq).toBe(42);
  });

  it("append - should truncate a torn tail, record log.repaired and keep the earlier events", async () => {
    await append(waited(1), waited(2));
    const half = formatLine({ ...(waited(3) as AccountEvent & { type: "lock.waited" }), seq: 3 });
    appendFileSync(logFile(), half.slice(0, 30));
    expect((await read()).map((e) => e.seq)).toEqual([1, 2]);
    const logs: Array<string> = [];
    const stored = await runWith(
      home,
      EventStore.use((s) => s.append(account, [waited(4)])),
      logs,
    );
    const events = await read();
    expect(events.map((e) => e.type)).toEqual(["lock.waited", "lock.waited", "log.repaired", "lock.waited"]);
    expect(events[2]).toMatchObject({ type: "log.repaired", reason: "torn-tail", droppedBytes: 30, seq: 3 });
    expect(stored.map((e) => e.seq)).toEqual([4]);
    expect(lines().every((l) => parseLine(Buffer.from(l)) !== undefined)).toBe(true);
    expect(logs.some((l) => l.includes("torn"))).toBe(true);
  });

  it("append - should truncate a bit-flipped last line", async () => {
    await append(waited(1), waited(2), waited(3));
    const bytes = readFileSync(logFile());
    const lastStart = bytes.lastIndexOf(0x0a, bytes.length - 2) + 1;
    bytes[lastStart + 20] = bytes[lastStart + 20]! ^ 0x01;
    writeFileSync(logFile(), bytes);
    expect((await read()).map((e) => e.seq)).toEqual([1, 2]);
    await append(waited(4));
    const events = await read();
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(events[2]).toMatchObject({
      type: "log.repaired",
      reason: "torn-tail",
      droppedBytes: bytes.length - lastStart,
    });
    expect(readdirSync(home)).not.toContain("quarantine");
  });

  it("append - should quarantine a log with a bit flip in a middle line and keep the valid events", async () => {
    await append(waited(1), waited(2), waited(3), waited(4));
    const original = readFileSync(logFile());
    const bytes = Buffer.from(original);
    const secondStart = bytes.indexOf(0x0a) + 1;
    const secondLength = bytes.indexOf(0x0a, secondStart) + 1 - secondStart;
    bytes[secondStart + 25] = bytes[secondStart + 25]! ^ 0x04;
    writeFileSync(logFile(), bytes);
    const logs: Array<string> = [];
    expect((await read(logs)).map((e) => e.seq)).toEqual([1, 3, 4]);
    expect(logs.some((l) => l.includes("corrupt"))).toBe(true);
    expect(readFileSync(logFile())).toEqual(bytes);
    await runWith(
      home,
      EventStore.use((s) => s.append(account, [waited(5)])),
      logs,
    );
    const events = await read();
    expect(events.map((e) => e.seq)).toEqual([1, 3, 4, 5, 6]);
    const repaired = events[3];
    expect(repaired).toMatchObject({ type: "log.repaired", reason: "corrupt", droppedBytes: secondLength });
    const quarantined = readdirSync(join(home, "quarantine"));
    expect(quarantined).toHaveLength(1);
    expect(repaired?.type === "log.repaired" ? repaired.quarantinedTo : "").toBe(join("quarantine", quarantined[0]!));
    expect(readFileSync(join(home, "quarantine", quarantined[0]!))).toEqual(bytes);
    expect(logs.some((l) => l.includes("copied to"))).toBe(true);
  });

  it("read - should never modify the file, skipping a torn tail silently", async () => {
    await append(waited(1));
    appendFileSync(logFile(), '0badc0de {"v":1,');
    const before = readFileSync(logFile());
    const logs: Array<string> = [];
    expect((await read(logs)).map((e) => e.seq)).toEqual([1]);
    expect(readFileSync(logFile())).toEqual(before);
    expect(logs).toEqual([]);
  });

  it("read - should treat a record of an unknown schema version as corrupt", async () => {
    await append(waited(1));
    const json = JSON.stringify({ v: 2, seq: 2, at: 1, host: "h", pid: 1, type: "lock.waited", waitedMs: 1 });
    appendFileSync(logFile(), `${checksum(Buffer.from(json))} ${json}\n`);
    await append(waited(3));
    const events = await read();
    expect(events.map((e) => e.type)).toEqual(["lock.waited", "log.repaired", "lock.waited"]);
  });

  const futureLine = (seq: number) => {
    const json = JSON.stringify({ v: 2, seq, at: 1, host: "h", pid: 1, type: "lock.waited", waitedMs: 1, more: "x" });
    return `${checksum(Buffer.from(json))} ${json}\n`;
  };

  it.each([
    ["last", [1, 2], [] as Array<number>],
    ["middle", [1], [3]],
  ])(
    "given a record of a newer schema version as the %s line, append - should quarantine a copy and keep every other event",
    async (_, before, after) => {
      await append(...before.map(waited));
      appendFileSync(logFile(), futureLine(before.length + 1));
      for (const n of after) {
        appendFileSync(logFile(), formatLine({ ...(waited(n) as AccountEvent & { type: "lock.waited" }), seq: n }));
      }
      const original = readFileSync(logFile());
      const readLogs: Array<string> = [];
      expect((await read(readLogs)).map((e) => e.seq)).toEqual([...before, ...after]);
      expect(readLogs.some((l) => l.includes("newer") && l.includes("schema version 2"))).toBe(true);
      expect(readFileSync(logFile())).toEqual(original);

      const logs: Array<string> = [];
      await runWith(
        home,
        EventStore.use((s) => s.append(account, [waited(9)])),
        logs,
      );
      const events = await read();
      const waitedSeqs = events.filter((e) => e.type === "lock.waited").map((e) => e.seq);
      expect(waitedSeqs.slice(0, -1)).toEqual([...before, ...after]);
      expect(events.at(-1)).toMatchObject({ type: "lock.waited", waitedMs: 9 });

      const repaired = events.find((e) => e.type === "log.repaired");
      expect(repaired).toMatchObject({ type: "log.repaired", reason: "corrupt" });
      const quarantined = readdirSync(join(home, "quarantine"));
      expect(quarantined).toHaveLength(1);
      expect(repaired?.type === "log.repaired" ? repaired.quarantinedTo : "").toBe(join("quarantine", quarantined[0]!));
      expect(readFileSync(join(home, "quarantine", quarantined[0]!))).toEqual(original);
      expect(logs.some((l) => l.includes("newer") && l.includes("schema version 2"))).toBe(true);
    },
  );

  it("append - should refuse a symlink planted at events.log and leave its target untouched", async () => {
    mkdirSync(join(home, "accounts", "github", "work"), { recursive: true, mode: 0o700 });
    const target = join(home, "target.log");
    writeFileSync(target, "precious\n");
    symlinkSync(target, logFile());
    const failure = await runWith(home, Effect.flip(EventStore.use((s) => s.append(account, [waited(1)]))));
    expect(failure).toMatchObject({ _tag: "StoreFailure", reason: "permission" });
    expect(failure.message).toContain(logFile());
    const readFailure = await runWith(home, Effect.flip(EventStore.use((s) => s.read(account))));
    expect(readFailure).toMatchObject({ reason: "permission" });
    expect(readFileSync(target, "utf8")).toBe("precious\n");
  });

  it("accounts - should list the accounts that have a log", async () => {
    await append(waited(1));
    await runWith(
      home,
      EventStore.use((s) => s.append({ provider: "gitlab", account: "ci" }, [waited(1)])),
    );
    mkdirSync(join(home, "accounts", "github", "empty"), { recursive: true });
    const accounts = await runWith(
      home,
      EventStore.use((s) => s.accounts()),
    );
    expect(accounts).toEqual([account, { provider: "gitlab", account: "ci" }]);
  });

  it("append - should never interleave lines when 4 processes and 4 fibers append at once", async () => {
    await append(waited(0));
    const perChild = 150;
    const children = Array.from({ length: 4 }, (_, i) =>
      startChild("append-lines.mjs", [logFile(), String(perChild), String(1_000_000 * (i + 1))]),
    );
    const fibers = runWith(
      home,
      Effect.all(
        Array.from({ length: 4 }, () =>
          Effect.forEach(
            Array.from({ length: 25 }, (_, j) => j),
            (j) => EventStore.use((s) => s.append(account, [waited(j), waited(j)])),
          ),
        ),
        { concurrency: "unbounded" },
      ),
    );
    const codes = await Promise.all(children.map((c) => c.exited));
    await fibers;
    expect(codes).toEqual([0, 0, 0, 0]);
    const all = lines();
    expect(all).toHaveLength(1 + 4 * perChild + 4 * 25 * 2);
    expect(all.every((l) => parseLine(Buffer.from(l)) !== undefined)).toBe(true);
    const events = await read();
    expect(events).toHaveLength(all.length);
    expect(events.some((e) => e.type === "log.repaired")).toBe(false);
  });

  it("append - should lose no record when 4 processes append through the adapter without the lock", async () => {
    const children = Array.from({ length: 4 }, () => startChild("store-worker.mjs", [home, "append", "40"]));
    expect(await Promise.all(children.map((c) => c.exited))).toEqual([0, 0, 0, 0]);
    const all = lines();
    expect(all).toHaveLength(160);
    expect(all.every((l) => parseLine(Buffer.from(l)) !== undefined)).toBe(true);
    const events = await read();
    expect(events).toHaveLength(160);
    expect(events.some((e) => e.type === "log.repaired")).toBe(false);
  });
});
