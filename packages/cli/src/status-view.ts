/**
 * What `baton status` shows, apart from parsing its options: the table and the `--json` document (docs/cli.md; never
 * a secret) — per account the core's status, plus whether it is its provider's default account and how many active
 * sessions (`baton exec`, embedded hosts) use it. Used by commands/status.ts and, without loading effect/cli, by
 * lean-entry.ts. `status REF` of an account with neither credentials nor history is `NotFound` (exit 5). A thin
 * client (BATON_SERVER) shows what its broker answers.
 */
import { BrokerClient, ProviderRegistry } from "@baton/adapters";
import { type AccountStatus, accountStatus, allAccounts, NotFound, Sessions } from "@baton/core";
import { Clock, Effect } from "effect";
import { CliEnvironment } from "./composition.ts";
import { absoluteTime, paint, relativeTime, table } from "./format.ts";
import { resolveKnownAccount } from "./resolve.ts";

export interface StatusRow extends AccountStatus {
  /** This account is its provider's default (a bare `PROVIDER` names it). */
  readonly default: boolean;
  /** Live processes using the account now. */
  readonly sessions: number;
}

/** Clock skews beyond this are pointed out under the table. */
const SKEW_NOTE_MS = 30_000;

const who = (s: StatusRow): string => s.identity?.email ?? s.identity?.name ?? s.identity?.subject ?? "-";

export const renderStatusTable = (statuses: ReadonlyArray<StatusRow>, now: number, color: boolean): string => {
  if (statuses.length === 0) return "no accounts yet; run `baton login PROVIDER:ACCOUNT`";
  const stateColor = (state: string) =>
    state === "valid"
      ? paint(color, "green", state)
      : state === "revoked" || state === "inDoubt"
        ? paint(color, "red", state)
        : paint(color, "yellow", state);
  const notes = statuses.flatMap((s) =>
    s.clockSkewMs !== null && Math.abs(s.clockSkewMs) > SKEW_NOTE_MS
      ? [
          `note: ${s.account}: this machine's clock was ${Math.round(Math.abs(s.clockSkewMs) / 1000)} s ` +
            `${s.clockSkewMs > 0 ? "ahead of" : "behind"} the provider's at the last refresh (run \`baton doctor\`)`,
        ]
      : [],
  );
  const rows = table(
    ["ACCOUNT", "WHO", "STATE", "GEN", "EXPIRES", "LAST REFRESH", "STORAGE", "SESSIONS", "LAST ERROR"],
    statuses.map((s) => [
      s.default ? `${s.account} *` : s.account,
      who(s),
      stateColor(s.state),
      String(s.generation),
      s.expiresAt === null ? "-" : `${relativeTime(s.expiresAt, now)} (${absoluteTime(s.expiresAt)})`,
      s.lastRefreshAt === null ? "-" : relativeTime(s.lastRefreshAt, now),
      s.storage,
      String(s.sessions),
      s.inDoubt !== null
        ? `in doubt: gen ${s.inDoubt.generation} by pid ${s.inDoubt.pid}@${s.inDoubt.host}`
        : s.note !== null
          ? s.note
          : s.lastError === null
            ? "-"
            : `${s.lastError.reason} ${relativeTime(s.lastError.at, now)}${s.retryAt === null ? "" : `, retry ${relativeTime(s.retryAt, now)}`}`,
    ]),
  );
  const legend = statuses.some((s) => s.default) ? ["* its provider's default account"] : [];
  return [rows, ...legend, ...notes].join("\n");
};

/**
 * The rows of `baton status [REF]` from this process's stores: per account the core's status, whether it is the
 * default, and its active sessions (also what a broker answers its thin clients, serve/broker.ts).
 */
export const statusRows = (ref: string | undefined) =>
  Effect.gen(function* () {
    const accounts = ref !== undefined ? [yield* resolveKnownAccount(ref)] : yield* allAccounts;
    const statuses = yield* Effect.forEach(accounts, accountStatus, { concurrency: 16 });
    const [named] = statuses;
    if (ref !== undefined && named !== undefined && named.storage === "none" && named.events === 0) {
      return yield* new NotFound({
        what: "account",
        name: named.account,
        message: `no account ${named.account}: it has no credentials and no history (\`baton status\` lists the accounts; \`baton login ${named.account}\` creates it)`,
      });
    }
    const defaults = (yield* ProviderRegistry.loadConfig()).defaults;
    const sessions = new Map<string, number>();
    for (const session of yield* (yield* Sessions).active()) {
      sessions.set(session.account, (sessions.get(session.account) ?? 0) + 1);
    }
    return statuses.map((status): StatusRow => {
      const [provider, name] = [
        status.account.slice(0, status.account.indexOf(":")),
        status.account.slice(status.account.indexOf(":") + 1),
      ];
      return { ...status, default: defaults[provider] === name, sessions: sessions.get(status.account) ?? 0 };
    });
  });

/**
 * The behaviour of `baton status [REF] [--json]`, apart from parsing (also run by lean-entry.ts). A thin client shows
 * the broker's accounts (those its client token may use).
 */
export const showStatus = (ref: string | undefined, json: boolean) =>
  Effect.gen(function* () {
    const env = yield* CliEnvironment;
    const rows: ReadonlyArray<StatusRow> =
      env.server === undefined ? yield* statusRows(ref) : yield* BrokerClient.status(env.server, ref);
    const now = yield* Clock.currentTimeMillis;
    const text = json
      ? JSON.stringify({ version: 1, accounts: rows }, null, 2)
      : renderStatusTable(rows, now, env.color);
    yield* Effect.sync(() => process.stdout.write(`${text}\n`));
  });
