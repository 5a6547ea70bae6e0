/**
 * `baton status [REF] [--json]`: per account — state, expiry (relative and absolute), last refresh, generation,
 * storage, last error, in-doubt claims. The `--json` shape is documented in docs/cli.md and never holds a secret.
 */
import { Clock, Effect, Option } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { type AccountStatus, accountStatus, allAccounts } from "../account-status.ts";
import { CliEnvironment } from "../composition.ts";
import { absoluteTime, paint, relativeTime, table } from "../format.ts";
import { resolveKnownAccount } from "../resolve.ts";

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
        : s.lastError === null
          ? "-"
          : `${s.lastError.reason} ${relativeTime(s.lastError.at, now)}`,
    ]),
  );
};

export const statusCommand = Command.make(
  "status",
  {
    ref: Argument.String("ref").pipe(
      Argument.withDescription("PROVIDER:ACCOUNT (default: every account)"),
      Argument.optional,
    ),
    json: Flag.Boolean("json").pipe(
      Flag.withDescription("machine-readable output (docs/cli.md)"),
      Flag.withDefault(false),
    ),
  },
  ({ ref, json }) =>
    Effect.gen(function* () {
      const env = yield* CliEnvironment;
      const accounts = Option.isSome(ref) ? [yield* resolveKnownAccount(env.home, ref.value)] : yield* allAccounts;
      const statuses = yield* Effect.forEach(accounts, accountStatus, { concurrency: 16 });
      const now = yield* Clock.currentTimeMillis;
      const text = json
        ? JSON.stringify({ version: 1, accounts: statuses }, null, 2)
        : renderStatusTable(statuses, now, env.color);
      yield* Effect.sync(() => process.stdout.write(`${text}\n`));
    }),
).pipe(
  Command.withDescription("Show each account's state, expiry, generation, storage and problems"),
  Command.withExamples([
    { command: "baton status", description: "every account as a table" },
    { command: "baton status github:work --json", description: "one account, machine-readable" },
  ]),
);
