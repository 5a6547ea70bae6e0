/**
 * What `baton status` shows, apart from parsing its options: the table and the `--json` document (docs/cli.md; never
 * a secret). Used by commands/status.ts and, without loading effect/cli, by status-entry.ts. `status REF` of an
 * account with neither credentials nor history is `NotFound` (exit 5).
 */
import { NotFound } from "@baton/core";
import { Clock, Effect } from "effect";
import { type AccountStatus, accountStatus, allAccounts } from "./account-status.ts";
import { CliEnvironment } from "./composition.ts";
import { absoluteTime, paint, relativeTime, table } from "./format.ts";
import { resolveKnownAccount } from "./resolve.ts";

export const renderStatusTable = (statuses: ReadonlyArray<AccountStatus>, now: number, color: boolean): string => {
  if (statuses.length === 0) return "no accounts yet; run `baton login PROVIDER:ACCOUNT`";
  const stateColor = (state: string) =>
    state === "valid"
      ? paint(color, "green", state)
      : state === "revoked" || state === "inDoubt"
        ? paint(color, "red", state)
        : paint(color, "yellow", state);
  return table(
    ["ACCOUNT", "STATE", "GEN", "EXPIRES", "LAST REFRESH", "STORAGE", "LAST ERROR"],
    statuses.map((s) => [
      s.account,
      stateColor(s.state),
      String(s.generation),
      s.expiresAt === null ? "-" : `${relativeTime(s.expiresAt, now)} (${absoluteTime(s.expiresAt)})`,
      s.lastRefreshAt === null ? "-" : relativeTime(s.lastRefreshAt, now),
      s.storage,
      s.inDoubt !== null
        ? `in doubt: gen ${s.inDoubt.generation} by pid ${s.inDoubt.pid}@${s.inDoubt.host}`
        : s.note !== null
          ? s.note
          : s.lastError === null
            ? "-"
            : `${s.lastError.reason} ${relativeTime(s.lastError.at, now)}`,
    ]),
  );
};

/** The behaviour of `baton status [REF] [--json]`, apart from parsing (also run by status-entry.ts). */
export const showStatus = (ref: string | undefined, json: boolean) =>
  Effect.gen(function* () {
    const env = yield* CliEnvironment;
    const accounts = ref !== undefined ? [yield* resolveKnownAccount(env.home, ref)] : yield* allAccounts;
    const statuses = yield* Effect.forEach(accounts, accountStatus, { concurrency: 16 });
    const [named] = statuses;
    if (ref !== undefined && named !== undefined && named.storage === "none" && named.events === 0) {
      return yield* new NotFound({
        what: "account",
        name: named.account,
        message: `no account ${named.account}: it has no credentials and no history (\`baton status\` lists the accounts; \`baton login ${named.account}\` creates it)`,
      });
    }
    const now = yield* Clock.currentTimeMillis;
    const text = json
      ? JSON.stringify({ version: 1, accounts: statuses }, null, 2)
      : renderStatusTable(statuses, now, env.color);
    yield* Effect.sync(() => process.stdout.write(`${text}\n`));
  });
