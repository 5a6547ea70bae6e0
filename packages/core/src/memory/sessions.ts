/** In-memory sessions over a shared world: processes register while they use an account; dead pids do not count. */
import { Clock, Effect, Layer } from "effect";
import { accountKey } from "../account.ts";
import { type SessionRecord, Sessions } from "../ports/sessions.ts";
import type { MemoryWorld } from "./world.ts";

export const sessionsLayer = (world: MemoryWorld, pid: number, records: Array<SessionRecord> = []) =>
  Layer.succeed(
    Sessions,
    Sessions.of({
      register: (account, kind) =>
        Effect.acquireRelease(
          Effect.map(Clock.currentTimeMillis, (now) => {
            const record: SessionRecord = {
              account: accountKey(account),
              host: world.host,
              pid,
              kind,
              startedAt: now,
              seenAt: now,
            };
            records.push(record);
            return record;
          }),
          (record) =>
            Effect.sync(() => {
              const index = records.indexOf(record);
              if (index >= 0) records.splice(index, 1);
            }),
        ).pipe(Effect.asVoid),
      active: (account) =>
        Effect.sync(() =>
          records.filter((r) => world.alive.has(r.pid) && (account === undefined || r.account === accountKey(account))),
        ),
      stale: (idleMs) =>
        Effect.map(Clock.currentTimeMillis, (now) =>
          records.filter((r) => !world.alive.has(r.pid) || now - r.seenAt > idleMs),
        ),
      remove: (session) =>
        Effect.sync(() => {
          const index = records.indexOf(session);
          if (index >= 0) records.splice(index, 1);
        }),
    }),
  );
