/**
 * Benchmark 3 (child): the embedded facade's hot path. Creates `createBaton({ home, storage: "file", prefetch: [ref] })`
 * (the bench logs in with file storage; the facade's default is the keychain) on a home
 * whose token is valid for an hour, asks once, then calls `await baton.accessToken(ref)` in a loop for `ms` per trial
 * (bounded: at most 200 M calls per trial). For scale it measures the same loop over an empty async function (the
 * floor of any Promise-returning API). Prints one JSON line.
 * Usage: node embedded.mjs BUNDLE HOME REF MS TRIALS
 */
const [bundle, home, ref, msText, trialsText] = process.argv.slice(2);
const ms = Number(msText);
const trials = Number(trialsText);
const MAX_CALLS = 200_000_000;

const loop = async (call) => {
  let calls = 0;
  const start = performance.now();
  let now = start;
  while (calls < MAX_CALLS) {
    for (let i = 0; i < 1024; i++) await call();
    calls += 1024;
    now = performance.now();
    if (now - start >= ms) break;
  }
  return calls / ((now - start) / 1000);
};

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const { createBaton } = await import(bundle);
const baton = await createBaton({ home, storage: "file", prefetch: [ref] });
const first = await baton.accessToken(ref);
const facade = () => baton.accessToken(ref);
const floorFn = async () => first;
await loop(facade); // warm-up (JIT)
await loop(floorFn);
const facadeRates = [];
const floorRates = [];
for (let t = 0; t < trials; t++) {
  facadeRates.push(await loop(facade));
  floorRates.push(await loop(floorFn));
}
const last = await baton.accessToken(ref);
await baton.close();
process.stdout.write(
  `${JSON.stringify({ callsPerSecond: median(facadeRates), trials: facadeRates, floorCallsPerSecond: median(floorRates), floorTrials: floorRates, sameToken: first === last })}\n`,
);
