/**
 * `baton clean [--yes] [--json]`: lists, and with --yes removes, what can no longer be used:
 *
 * - accounts unrefreshable for more than 7 days: credentials are stored, the last event is older than 7 days, and
 *   the account is `revoked` or `inDoubt`, or `expired` with no way to refresh (no refresh token, the last refresh
 *   failed — a persistent error —, or its provider is no longer registered). An expired access token with a refresh
 *   token and no error is NOT unrefreshable: the next `baton token` refreshes it. Removal re-checks under the account
 *   lock, removes the secrets and records `account.logged-out` (remoteRevoked false); the event history is kept.
 * - orphaned sessions (`Sessions.stale`: the process is gone, or it has not been seen for 7 days).
 *
 * Without --yes nothing changes (a dry run). The report goes to stdout; `--json` is documented in docs/cli.md.
 */
import { ProviderRegistry } from "@baton/adapters";
import {
  type AccountRef,
  accountKey,
  allAccounts,
  EventStore,
  HostIdentity,
  record,
  replay,
  SecretStore,
  type SessionRecord,
  Sessions,
  stateName,
  withAccountLock,
} from "@baton/core";
import { Clock, Effect } from "effect";
import { Command, Flag } from "effect/cli";
import { absoluteTime, relativeTime } from "../format.ts";
import { jsonFlag } from "../json-flag.ts";
import { storeProblem } from "./export.ts";

export const UNREFRESHABLE_AFTER_MS = 7 * 24 * 60 * 60 * 1000;

export interface CleanOptions {
  readonly yes: boolean;
  readonly json: boolean;
}

export interface AccountCandidate {
  readonly account: string;
  readonly state: string;
  readonly reason: string;
  readonly lastActivityAt: number;
  readonly removed: boolean;
}

export interface SessionCandidate {
  readonly account: string;
  readonly host: string;
  readonly pid: number;
  readonly kind: SessionRecord["kind"];
  readonly startedAt: number;
  readonly seenAt: number;
  readonly reason: "process-gone" | "idle";
  readonly removed: boolean;
}

/** Why the account cannot be refreshed any more, or `undefined` when it can (or is recent, or has no secrets). */
const unrefreshable = (account: AccountRef, now: number) =>
  Effect.gen(function* () {
    const secrets = yield* SecretStore;
    const stored = yield* secrets.read(account).pipe(Effect.mapError(storeProblem(account)));
    if (stored === undefined) return undefined;
    const events = yield* (yield* EventStore).read(account).pipe(Effect.mapError(storeProblem(account)));
    const last = events.at(-1)?.at;
    if (last === undefined || now - last <= UNREFRESHABLE_AFTER_MS) return undefined;
    const snapshot = replay(events, { now });
    const state = stateName(snapshot);
    const registered = yield* ProviderRegistry.getProvider(account.provider).pipe(
      Effect.as(true),
      Effect.catchTag("NotFound", () => Effect.succeed(false)),
    );
    const reason =
      state === "revoked"
        ? snapshot.context.revokedReason === "in-doubt"
          ? "revoked: a refresh was sent and never answered (in doubt)"
          : "revoked: the provider rejected its refresh token"
        : state === "inDoubt"
          ? "in doubt: a refresh was sent and never answered"
          : state !== "expired"
            ? undefined
            : stored.refreshToken === undefined
              ? "expired, and there is no refresh token"
              : !registered
                ? `expired, and provider ${account.provider} is no longer registered`
                : snapshot.context.lastError !== undefined
                  ? `expired, and the last refresh failed (${snapshot.context.lastError.reason})`
                  : undefined;
    return reason === undefined ? undefined : { state, reason, lastActivityAt: last, generation: stored.generation };
  });

const removeAccount = (account: AccountRef, now: number) =>
  withAccountLock(
    account,
    Effect.gen(function* () {
      // Re-checked under the lock: a login or import since the listing keeps the account.
      const still = yield* unrefreshable(account, now);
      if (still === undefined) return false;
      yield* (yield* SecretStore).remove(account).pipe(Effect.mapError(storeProblem(account)));
      yield* record(account, { type: "account.logged-out", generation: still.generation, remoteRevoked: false });
      return true;
    }),
  );

export const runClean = (options: CleanOptions) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis;
    const identity = yield* HostIdentity;
    const sessions = yield* Sessions;
    const accounts: Array<AccountCandidate> = [];
    for (const account of yield* allAccounts) {
      const found = yield* unrefreshable(account, now).pipe(
        Effect.catchTag("LoginRequired", (error) =>
          Effect.sync(() => {
            process.stderr.write(`warning: skipping ${accountKey(account)}: ${error.message}\n`);
            return undefined;
          }),
        ),
      );
      if (found === undefined) continue;
      const removed = options.yes ? yield* removeAccount(account, now) : false;
      const { generation: _, ...shown } = found;
      accounts.push({ account: accountKey(account), ...shown, removed });
    }
    const orphans: Array<SessionCandidate> = [];
    for (const session of yield* sessions.stale(UNREFRESHABLE_AFTER_MS)) {
      const liveness = yield* identity.isAlive(session.host, session.pid);
      if (options.yes) yield* sessions.remove(session);
      orphans.push({
        account: session.account,
        host: session.host,
        pid: session.pid,
        kind: session.kind,
        startedAt: session.startedAt,
        seenAt: session.seenAt,
        reason: liveness === "dead" ? "process-gone" : "idle",
        removed: options.yes,
      });
    }
    const text = options.json
      ? JSON.stringify({ version: 1, dryRun: !options.yes, accounts, sessions: orphans }, null, 2)
      : renderClean(accounts, orphans, options.yes, now);
    yield* Effect.sync(() => process.stdout.write(`${text}\n`));
  });

export const renderClean = (
  accounts: ReadonlyArray<AccountCandidate>,
  sessions: ReadonlyArray<SessionCandidate>,
  yes: boolean,
  now: number,
): string => {
  if (accounts.length === 0 && sessions.length === 0) return "nothing to clean";
  const lines: Array<string> = [];
  if (accounts.length > 0) lines.push("accounts unrefreshable for more than 7 days:");
  for (const a of accounts) {
    const verb = !yes ? "would remove" : a.removed ? "removed" : "kept (changed meanwhile)";
    lines.push(
      `  ${verb} ${a.account}: ${a.reason}; last activity ${relativeTime(a.lastActivityAt, now)} (${absoluteTime(a.lastActivityAt)})`,
    );
  }
  if (sessions.length > 0) lines.push("orphaned sessions:");
  for (const s of sessions) {
    const why = s.reason === "process-gone" ? "its process is gone" : `not seen since ${absoluteTime(s.seenAt)}`;
    lines.push(
      `  ${yes ? "removed" : "would remove"} ${s.kind} session of ${s.account}, pid ${s.pid} on ${s.host}: ${why}`,
    );
  }
  const removedAccounts = accounts.filter((a) => a.removed).length;
  lines.push(
    yes
      ? `removed ${removedAccounts} account(s) (credentials deleted, event history kept) and ${sessions.length} session(s)`
      : `dry run: nothing was changed; \`baton clean --yes\` removes ${accounts.length} account(s) and ${sessions.length} session(s)`,
  );
  return lines.join("\n");
};

export const cleanCommand = Command.make(
  "clean",
  {
    yes: Flag.Boolean("yes").pipe(
      Flag.withDescription("remove what is listed (without it: a dry run)"),
      Flag.withDefault(false),
    ),
    json: jsonFlag,
  },
  (options) => runClean(options),
).pipe(
  Command.withDescription("List (and with --yes remove) accounts unrefreshable for over 7 days and orphaned sessions"),
  Command.withExamples([
    { command: "baton clean", description: "show what would be removed" },
    { command: "baton clean --yes", description: "remove it" },
  ]),
);
