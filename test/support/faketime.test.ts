/**
 * Tests of the clock-offset helper (faketime.ts): a real Node child under libfaketime sees its wall clock shifted,
 * or jump while it runs, while its monotonic clock stays the machine's (CLOCK_MONOTONIC is system-wide, so the
 * child's hrtime must fall between the parent's readings before and after it).
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { type AdjustableClock, adjustableClock, clockOffsetEnv, findLibfaketime } from "./faketime.ts";

interface Reading {
  readonly date: number;
  readonly hrMs: number;
  readonly perfMs: number;
}

/** The child: prints a reading, then another after each line on stdin (or after `pauseMs` when given). */
const CHILD = `
const read = () => ({ date: Date.now(), hrMs: Number(process.hrtime.bigint()) / 1e6, perfMs: performance.now() });
const print = () => process.stdout.write(JSON.stringify(read()) + "\\n");
print();
const pauseMs = Number(process.argv[1]);
if (pauseMs > 0) setTimeout(print, pauseMs);
else process.stdin.setEncoding("utf8").on("data", print);
`;

function parseReading(line: string): Reading {
  const parsed: unknown = JSON.parse(line);
  const field = (name: keyof Reading): number => {
    const value: unknown = typeof parsed === "object" && parsed !== null ? Reflect.get(parsed, name) : undefined;
    if (typeof value !== "number") throw new Error(`the child's reading has no number "${name}": ${line}`);
    return value;
  };
  return { date: field("date"), hrMs: field("hrMs"), perfMs: field("perfMs") };
}

const hrNowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

function startChild(env: Readonly<Record<string, string>>, pauseMs: number) {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ["-e", CHILD, String(pauseMs)], {
    env: { ...process.env, ...env },
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Reading> => {
    const line = await lines.next();
    if (line.done === true) throw new Error(`the child ended without a reading: ${stderr}`);
    return parseReading(line.value);
  };
  const ended = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { child, next, ended };
}

async function readingsUnderOffset(offsetSeconds: number, pauseMs: number) {
  const before = { date: Date.now(), hrMs: hrNowMs() };
  const { next, ended } = startChild(clockOffsetEnv(offsetSeconds), pauseMs);
  const first = await next();
  const second = await next();
  expect(await ended).toBe(0);
  return { before, after: { date: Date.now(), hrMs: hrNowMs() }, first, second };
}

describe("clockOffsetEnv", () => {
  it("findLibfaketime - should find the library installed by the system dependencies", () => {
    expect(findLibfaketime()).toMatch(/\/libfaketime(MT)?\.so\.1$/);
  });

  it("clockOffsetEnv(90) - a node child should read a wall clock 90 s ahead while its monotonic clock runs normally", async () => {
    const { before, after, first, second } = await readingsUnderOffset(90, 300);

    expect(first.date - before.date).toBeGreaterThanOrEqual(90_000);
    expect(first.date - after.date).toBeLessThanOrEqual(90_000);
    // Not shifted: the machine-wide monotonic clock, read between the parent's two readings.
    expect(first.hrMs).toBeGreaterThan(before.hrMs);
    expect(second.hrMs).toBeLessThan(after.hrMs);
    // Both clocks advance at the real rate across the child's 300 ms pause.
    for (const elapsed of [second.date - first.date, second.hrMs - first.hrMs, second.perfMs - first.perfMs]) {
      expect(elapsed).toBeGreaterThanOrEqual(295);
      expect(elapsed).toBeLessThan(300 + (after.hrMs - before.hrMs));
    }
  });

  it("clockOffsetEnv(-90) - a node child should read a wall clock 90 s behind", async () => {
    const { before, after, first } = await readingsUnderOffset(-90, 0.1);
    expect(before.date - first.date).toBeLessThanOrEqual(90_000);
    expect(after.date - first.date).toBeGreaterThanOrEqual(90_000);
  });

  it("clockOffsetEnv - should refuse an offset that is not a whole number of seconds", () => {
    expect(() => clockOffsetEnv(1.5)).toThrow(/whole number of seconds/);
  });
});

describe("adjustableClock", () => {
  let clock: AdjustableClock | undefined;
  afterEach(async () => {
    await clock?.dispose();
  });

  it("set - should make a running child's wall clock jump forward and back while its monotonic clock does not", async () => {
    clock = await adjustableClock(0);
    const { child, next, ended } = startChild(clock.env, 0);
    const start = await next();
    expect(Math.abs(start.date - Date.now())).toBeLessThan(1000);

    await clock.set(3600);
    child.stdin.write("\n");
    const forward = await next();
    await clock.set(-60);
    child.stdin.write("\n");
    const back = await next();
    child.stdin.end();
    expect(await ended).toBe(0);

    const realNow = Date.now();
    expect(forward.date - start.date).toBeGreaterThanOrEqual(3_600_000);
    expect(forward.date - realNow).toBeLessThanOrEqual(3_600_000);
    expect(realNow - back.date).toBeGreaterThanOrEqual(60_000);
    expect(back.hrMs - start.hrMs).toBeLessThan(5000);
    expect(back.hrMs).toBeGreaterThan(forward.hrMs);
  });
});
