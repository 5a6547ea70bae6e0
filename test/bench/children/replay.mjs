/**
 * Benchmark 4 (child): the pure `replay` fold of the core (packages/core/src/lifecycle.ts) over a generated, realistic
 * event stream of COUNT events (lib/events.mjs: a login, then rotations with lock waits, claims, rare failures and
 * stored credentials). Folds it TRIALS times after a warm-up and prints one JSON line (events/s of the median trial).
 * Also times decoding the same events from their log lines (checksum + JSON + schema), the other half of
 * `baton status` / `replay` per event, for scale.
 * Usage: node replay.mjs BUNDLE COUNT TRIALS
 */
const [bundle, countText, trialsText] = process.argv.slice(2);
const count = Number(countText);
const trials = Number(trialsText);
const { replay, stateName, FileEventStore, lifecycleMachine, createActor } = await import(bundle);
const { generateEvents } = await import("../lib/events.mjs");

const { events } = generateEvents(count);
const types = {};
for (const e of events) types[e.type] = (types[e.type] ?? 0) + 1;
const now = events.at(-1).at + 1000;
replay(events.slice(0, Math.min(count, 20_000)), { now }); // warm-up
const times = [];
let state;
for (let t = 0; t < trials; t++) {
  const start = performance.now();
  state = stateName(replay(events, { now }));
  times.push(performance.now() - start);
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const foldMs = median(times);

// Diagnostic, not the product's code: the same fold through the machine's own `transition` with ONE actor scope
// reused for every event. xstate's `transition()` (what `step` calls) builds a throwaway actor per call
// (createInertActorScope → createActor → getInitialSnapshot); this measures the fold without that.
const actor = createActor(lifecycleMachine, { input: {} });
const scope = {
  self: actor,
  defer: () => {},
  id: "",
  logger: () => {},
  sessionId: "",
  stopChild: () => {},
  system: actor.system,
  emit: () => {},
  actionExecutor: () => {},
};
const foldReused = (list) => {
  let snapshot = replay([], {});
  for (const event of list) snapshot = lifecycleMachine.transition(snapshot, event, scope);
  return lifecycleMachine.transition(snapshot, { type: "clock.tick", at: now }, scope);
};
foldReused(events.slice(0, Math.min(count, 20_000)));
const reusedTimes = [];
let reusedState;
for (let t = 0; t < trials; t++) {
  const start = performance.now();
  reusedState = stateName(foldReused(events));
  reusedTimes.push(performance.now() - start);
}
const reusedMs = median(reusedTimes);

// Decoding the same events from log lines (what reading events.log costs per event).
const lines = events
  .slice(0, Math.min(count, 20_000))
  .map((e) => Buffer.from(FileEventStore.formatLine(e).slice(0, -1)));
const decodeStart = performance.now();
let decoded = 0;
for (const line of lines) if (FileEventStore.parseLine(line) !== undefined) decoded += 1;
const decodeMs = performance.now() - decodeStart;

process.stdout.write(
  `${JSON.stringify({ events: count, types, finalState: state, foldMs, trialsMs: times, eventsPerSecond: count / (foldMs / 1000), reusedScope: { state: reusedState, foldMs: reusedMs, eventsPerSecond: count / (reusedMs / 1000) }, decodeEventsPerSecond: decoded / (decodeMs / 1000), decoded })}\n`,
);
