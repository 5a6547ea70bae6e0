/**
 * A generator of realistic account event streams (schema version 1, see packages/core/src/events.ts): a login, then
 * rotations every 45 minutes — followers' `lock.waited`, `refresh.claimed`, now and then a `refresh.failed` and a
 * second claim, `credentials.stored` (source refresh) — with a rare `log.repaired`. Deterministic (seeded).
 * The stream always ends with a `credentials.stored`, padded with `lock.waited` events to exactly `total`.
 */
const fp = (n) => (n >>> 0).toString(16).padStart(8, "0").slice(-8);

export const generateEvents = (total, options = {}) => {
  let seed = options.seed ?? 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const events = [];
  let at = options.startAt ?? Date.UTC(2026, 10, 1);
  const lifetime = options.lifetimeMs ?? 3_600_000;
  let generation = 1;
  const host = options.host ?? "bench-host";
  const push = (event) =>
    events.push({ v: 1, seq: events.length + 1, at, host, pid: 4000 + (events.length % 97), ...event });
  push({
    type: "credentials.stored",
    generation,
    source: "login",
    accessFp: fp(1),
    refreshFp: fp(2),
    expiresAt: at + lifetime,
    scope: "openid offline_access profile",
  });
  // A rotation writes at most 3 (waits) + 4 events.
  while (events.length + 7 <= total) {
    at += Math.round(lifetime * 0.75);
    const waiters = Math.floor(random() * 4);
    for (let i = 0; i < waiters; i++) push({ type: "lock.waited", waitedMs: 100 + Math.floor(random() * 50) });
    push({ type: "refresh.claimed", generation, attempt: 1 });
    at += 120;
    if (random() < 0.05) {
      push({ type: "refresh.failed", generation, reason: "server-unavailable", retryAfterMs: 1000 });
      at += 1000;
      push({ type: "refresh.claimed", generation, attempt: 1 });
      at += 120;
    }
    generation += 1;
    push({
      type: "credentials.stored",
      generation,
      source: "refresh",
      accessFp: fp(generation * 2),
      refreshFp: fp(generation * 2 + 1),
      expiresAt: at + lifetime,
    });
    if (random() < 0.001) push({ type: "log.repaired", reason: "torn-tail", droppedBytes: 37 });
  }
  while (events.length < total) {
    at += 10;
    push({ type: "lock.waited", waitedMs: 5 });
  }
  return { events, generation, lastAt: at, lifetime };
};
