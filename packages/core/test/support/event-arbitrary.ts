/**
 * A fast-check arbitrary of any schema-valid account event (every type, random fields), for the codec and fold
 * property tests.
 */
import fc from "fast-check";
import type { AccountEvent } from "../../src/events.ts";

const fp = fc.stringMatching(/^[0-9a-f]{8}$/);
const gen = fc.integer({ min: 1, max: 6 });
const envelope = {
  v: fc.constant(1 as const),
  seq: fc.integer({ min: 1, max: 1000 }),
  at: fc.integer({ min: 0, max: 10_000_000 }),
  host: fc.constantFrom("a", "b"),
  pid: fc.integer({ min: 1, max: 99999 }),
};
export const anyEvent: fc.Arbitrary<AccountEvent> = fc.oneof(
  fc.record(
    {
      ...envelope,
      type: fc.constant("credentials.stored" as const),
      generation: gen,
      source: fc.constantFrom("login" as const, "refresh" as const, "import" as const),
      accessFp: fp,
      refreshFp: fp,
      expiresAt: fc.integer({ min: 0, max: 20_000_000 }),
      scope: fc.constantFrom("openid", "a b"),
    },
    { requiredKeys: ["v", "seq", "at", "host", "pid", "type", "generation", "source", "accessFp", "expiresAt"] },
  ),
  fc.record({
    ...envelope,
    type: fc.constant("refresh.claimed" as const),
    generation: gen,
    attempt: fc.integer({ min: 1, max: 2 }),
  }),
  fc.record({
    ...envelope,
    type: fc.constant("refresh.failed" as const),
    generation: gen,
    reason: fc.constantFrom("server_error", "network"),
  }),
  fc.record({
    ...envelope,
    type: fc.constant("refresh.rejected" as const),
    generation: gen,
    error: fc.constant("invalid_grant"),
  }),
  fc.record({
    ...envelope,
    type: fc.constant("refresh.in-doubt" as const),
    generation: gen,
    attempt: fc.integer({ min: 1, max: 2 }),
    claimant: fc.record({ host: fc.constant("a"), pid: fc.integer({ min: 1, max: 9 }), at: fc.nat() }),
  }),
  fc.record({
    ...envelope,
    type: fc.constant("account.revoked" as const),
    generation: gen,
    reason: fc.constantFrom("invalid_grant" as const, "in-doubt" as const),
  }),
  fc.record({
    ...envelope,
    type: fc.constant("account.logged-out" as const),
    generation: gen,
    remoteRevoked: fc.boolean(),
  }),
  fc.record({ ...envelope, type: fc.constant("lock.waited" as const), waitedMs: fc.nat() }),
  fc.record({
    ...envelope,
    type: fc.constant("log.repaired" as const),
    reason: fc.constantFrom("torn-tail" as const, "corrupt" as const),
    droppedBytes: fc.nat(),
  }),
);
