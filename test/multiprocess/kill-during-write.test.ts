/**
 * Kill at any point of a store write (SPEC §6): a writer replaces the secret record and appends events as fast as it
 * can and is SIGKILLed after a random delay, 200 times. After every kill the record must parse and be either the
 * generation the writer last reported or a later one (the old or the new version, never corrupt), and the event log
 * must read back with every complete record intact (a torn tail is truncated on the next append).
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { layerFileStores } from "@baton/adapters";
import { EventStore, SecretStore } from "@baton/core";
import { Effect } from "effect";
import { build } from "esbuild";
import { afterAll, beforeAll, expect, it } from "vitest";

const TRIALS = Number(process.env.BATON_KILL_TRIALS ?? 200);
let work: string;
let worker: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "baton-kill-"));
  worker = join(work, "write-loop.mjs");
  await build({
    entryPoints: [join(import.meta.dirname, "fixtures", "write-loop.ts")],
    outfile: worker,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    logLevel: "warning",
    banner: { js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);" },
  });
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const runUntilKilled = (home: string, delayMs: number) =>
  new Promise<{ readonly startedAt: number }>((resolve, reject) => {
    const child = spawn(process.execPath, [worker, home], { stdio: ["ignore", "pipe", "pipe"] });
    let startedAt = -1;
    let errors = "";
    child.stderr.on("data", (chunk: Buffer) => {
      errors += chunk.toString("utf8");
    });
    child.stdout.on("data", (chunk: Buffer) => {
      const match = /ready (\d+)/.exec(chunk.toString("utf8"));
      if (match !== null && startedAt < 0) {
        startedAt = Number(match[1]);
        setTimeout(() => child.kill("SIGKILL"), delayMs);
      }
    });
    child.on("close", (_code, signal) =>
      signal === "SIGKILL" ? resolve({ startedAt }) : reject(new Error(`writer ended without a kill: ${errors}`)),
    );
  });

it(`kill during a store write - should leave the old or the new version, never a corrupt one (${TRIALS} trials)`, async () => {
  const home = join(work, "home");
  const account = { provider: "demo", account: "writer" };
  const stores = layerFileStores({ home });
  const read = Effect.gen(function* () {
    const record = yield* (yield* SecretStore).read(account);
    const events = yield* (yield* EventStore).read(account);
    return { generation: record?.generation ?? 0, events: events.length };
  }).pipe(Effect.provide(stores));
  let previous = 0;
  let corrupt = 0;
  let tornTails = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    const { startedAt } = await runUntilKilled(home, Math.floor(Math.random() * 25));
    expect(startedAt).toBe(previous);
    // No file at all is possible only before the very first write completed (the old version: nothing).
    const raw = await readFile(join(home, "accounts", "demo", "writer", "secret.json"), "utf8").catch(() => undefined);
    if (raw === undefined) expect(previous).toBe(0);
    else {
      try {
        JSON.parse(raw);
      } catch {
        corrupt += 1;
      }
    }
    const log = await readFile(join(home, "accounts", "demo", "writer", "events.log"), "utf8").catch(() => "");
    if (log.length > 0 && !log.endsWith("\n")) tornTails += 1;
    const state = await Effect.runPromise(read);
    expect(state.generation).toBeGreaterThanOrEqual(previous);
    previous = state.generation;
  }
  const final = await Effect.runPromise(read);
  console.info(
    `kill during write: ${TRIALS} kills, ${final.generation} generations written, ${corrupt} corrupt records, ${tornTails} torn log tails seen (each repaired by the next append), ${final.events} events readable`,
  );
  expect(corrupt).toBe(0);
  expect(final.generation).toBeGreaterThan(0);
}, 240_000);
