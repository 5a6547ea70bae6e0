/**
 * Sessions as files: `<home>/sessions/<host>-<pid>-<account>.json` (0600), created when a session starts and removed
 * when it ends. A record whose pid is dead on this host is an orphan (the process crashed): it does not count as
 * active and `baton clean` removes it.
 */
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type AccountRef, accountKey, HostIdentity, type SessionRecord, Sessions, StoreFailure } from "@baton/core";
import { Clock, Effect, Layer } from "effect";

const sessionsDir = (home: string) => join(home, "sessions");
const fileName = (record: Pick<SessionRecord, "host" | "pid" | "account">) =>
  `${record.host}-${record.pid}-${record.account.replace(":", "~")}.json`.replace(/[^A-Za-z0-9._~-]/g, "_");

const io = (action: string) => (error: unknown) =>
  new StoreFailure({ reason: "io", message: `${action}: ${error instanceof Error ? error.message : String(error)}` });

const isRecord = (value: unknown): value is SessionRecord =>
  typeof value === "object" &&
  value !== null &&
  typeof (value as SessionRecord).account === "string" &&
  typeof (value as SessionRecord).pid === "number" &&
  typeof (value as SessionRecord).host === "string";

export const layer = (options: { readonly home: string }): Layer.Layer<Sessions, never, HostIdentity> =>
  Layer.effect(
    Sessions,
    Effect.gen(function* () {
      const identity = yield* HostIdentity;
      const dir = sessionsDir(options.home);
      const readAll = Effect.tryPromise({
        try: async () => {
          const names = await readdir(dir).catch((e: NodeJS.ErrnoException) =>
            e.code === "ENOENT" ? [] : Promise.reject(e),
          );
          const records: Array<SessionRecord> = [];
          for (const name of names.filter((n) => n.endsWith(".json"))) {
            try {
              const parsed: unknown = JSON.parse(await readFile(join(dir, name), "utf8"));
              if (isRecord(parsed)) records.push(parsed);
            } catch {
              // A half-written or foreign file is not a session.
            }
          }
          return records;
        },
        catch: io("reading sessions"),
      });
      const alive = (record: SessionRecord) =>
        Effect.map(identity.isAlive(record.host, record.pid), (l) => l !== "dead");
      const remove = (record: SessionRecord) =>
        Effect.tryPromise({
          try: () => rm(join(dir, fileName(record)), { force: true }),
          catch: io("removing a session"),
        });
      return Sessions.of({
        register: (account: AccountRef, kind) =>
          Effect.acquireRelease(
            Effect.gen(function* () {
              const now = yield* Clock.currentTimeMillis;
              const record: SessionRecord = {
                account: accountKey(account),
                host: identity.host,
                pid: identity.pid,
                kind,
                startedAt: now,
                seenAt: now,
              };
              yield* Effect.tryPromise({
                try: async () => {
                  await mkdir(dir, { recursive: true, mode: 0o700 });
                  await writeFile(join(dir, fileName(record)), JSON.stringify(record), { mode: 0o600 });
                },
                catch: io("registering a session"),
              });
              return record;
            }),
            (record) => Effect.ignore(remove(record)),
          ).pipe(Effect.asVoid),
        active: (account) =>
          Effect.flatMap(readAll, (records) =>
            Effect.filter(
              records.filter((r) => account === undefined || r.account === accountKey(account)),
              alive,
            ),
          ),
        stale: (idleMs) =>
          Effect.gen(function* () {
            const now = yield* Clock.currentTimeMillis;
            const records = yield* readAll;
            // On this host liveness decides (a week-long `baton exec` is not stale); elsewhere only age can.
            return yield* Effect.filter(records, (r) =>
              Effect.map(identity.isAlive(r.host, r.pid), (liveness) =>
                liveness === "dead" ? true : liveness === "unknown" ? now - r.seenAt > idleMs : false,
              ),
            );
          }),
        remove,
      });
    }),
  );
