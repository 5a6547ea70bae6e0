/**
 * What the test authorization server saw during a part of a test: the refreshes it granted, the reuse errors (a
 * rotated refresh token presented again) and the grants it revoked for them — the three counts behind "one refresh per
 * rotation, no reuse, nobody logged out".
 */
import type { AuthorizationServer, ServerCounters } from "@baton/devserver";

export interface RotationCounts {
  readonly refreshGrants: number;
  readonly reuseErrors: number;
  readonly grantsRevoked: number;
}

/** The counts of `server` since `before` (an earlier `server.counters()`). */
export const countsSince = (server: Pick<AuthorizationServer, "counters">, before: ServerCounters): RotationCounts => {
  const now = server.counters();
  return {
    refreshGrants: now.refreshGrants - before.refreshGrants,
    reuseErrors: now.reuseErrors - before.reuseErrors,
    grantsRevoked: now.grantsRevoked - before.grantsRevoked,
  };
};
