/**
 * What `baton exec` puts in the child's environment: which variable gets which account's token (`--env NAME=REF`
 * pairs, or `REF` with one optional `--env NAME`), and a token per account that stays valid for the run:
 * `--min-valid DURATION` refreshes first (a forced refresh, under the protocol) when less remains — unless the
 * provider's tokens never live that long, which no refresh can fix (then a warning, and no refresh on every run) —
 * and a token expiring within a typical run gets a warning naming the remedy.
 */
import { type AccountRef, accountKey, type Credentials, InvalidInput, Tokens } from "@baton/core";
import { Clock, Effect } from "effect";
import { absoluteTime, relativeTime } from "./format.ts";
import { resolveAccount } from "./resolve.ts";

export const DEFAULT_VARIABLE = "BATON_ACCESS_TOKEN";
/** A run that lasts longer than its token is worth a warning; ten minutes covers most builds and sessions. */
export const TYPICAL_RUN_MS = 10 * 60 * 1000;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const USAGE = "USAGE\n  baton exec [REF] [--env NAME | --env NAME=REF …] [--min-valid DURATION] -- CMD ARGS…";

/** A usage error, followed by the usage line (the optional REF keeps effect/cli from printing it). */
const invalid = (message: string) => new InvalidInput({ reason: "argument", message: `${message}\n\n${USAGE}` });

export interface Assignment {
  readonly variable: string;
  readonly ref: string;
}

export interface ExecPlan {
  readonly assignments: ReadonlyArray<Assignment>;
  readonly command: ReadonlyArray<string>;
}

/**
 * Splits `--env` values and positionals into assignments and the command. When every `--env` is `NAME=REF`, no REF
 * comes before the command (`exec --env GH_TOKEN=github:work -- gh …`); otherwise the first positional is REF, for the
 * one bare `--env NAME` (default BATON_ACCESS_TOKEN).
 */
export const planExec = (envs: ReadonlyArray<string>, positionals: ReadonlyArray<string>): ExecPlan | InvalidInput => {
  const pairs: Array<Assignment> = [];
  const bare: Array<string> = [];
  for (const value of envs) {
    const at = value.indexOf("=");
    const variable = at < 0 ? value : value.slice(0, at);
    if (!ENV_NAME.test(variable)) return invalid(`--env: "${variable}" is not a variable name`);
    if (at < 0) bare.push(variable);
    else if (value.slice(at + 1) === "") return invalid(`--env ${variable}=: name an account after "="`);
    else pairs.push({ variable, ref: value.slice(at + 1) });
  }
  if (bare.length > 1) return invalid("--env: only one NAME without =REF (it gets REF's token)");
  const needsRef = pairs.length === 0 || bare.length === 1;
  const [ref, ...rest] = positionals;
  const command = needsRef ? rest : positionals;
  const assignments =
    needsRef && ref !== undefined ? [{ variable: bare[0] ?? DEFAULT_VARIABLE, ref }, ...pairs] : pairs;
  if (needsRef && ref === undefined) return invalid("missing argument <ref> (or give every --env as NAME=REF)");
  const seen = new Set<string>();
  for (const { variable } of assignments) {
    if (seen.has(variable)) return invalid(`--env: ${variable} is given twice`);
    seen.add(variable);
  }
  if (command.length === 0) return invalid("name a command after --");
  return { assignments, command };
};

const DURATION_PART = /(\d+)(ms|s|m|h|d)/g;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * `90s`, `15m`, `1h30m`, `2h`, or whole seconds, as ms. Hand-written: Effect's Duration parses only "N unit" with a
 * space, not the compact forms that command lines use (`--min-valid 1h30m`).
 */
export const parseDuration = (text: string): number | undefined => {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/^(\d+(ms|s|m|h|d))+$/.test(text)) return undefined;
  let total = 0;
  for (const match of text.matchAll(DURATION_PART)) total += Number(match[1]) * (UNIT_MS[match[2] ?? "s"] ?? 0);
  return total;
};

/** A token for `account` that lasts `minValidMs` if the provider's tokens can; warns when the run may outlive it. */
export const tokenForRun = (account: AccountRef, minValidMs: number | undefined) =>
  Effect.gen(function* () {
    const tokens = yield* Tokens.Tokens;
    const key = accountKey(account);
    let credentials: Credentials = yield* tokens.credentials(account);
    let now = yield* Clock.currentTimeMillis;
    const lifetime = credentials.expiresAt - credentials.obtainedAt;
    if (minValidMs !== undefined && credentials.expiresAt - now < minValidMs) {
      if (lifetime < minValidMs) {
        yield* Effect.logWarning(
          `${key}'s tokens live ${relativeTime(now + lifetime, now).replace("in ", "")}, less than --min-valid; not refreshing for it`,
        );
      } else {
        credentials = yield* tokens.refresh(account);
        now = yield* Clock.currentTimeMillis;
      }
    }
    const wanted = minValidMs ?? TYPICAL_RUN_MS;
    if (credentials.expiresAt - now < wanted && !(minValidMs !== undefined && lifetime < minValidMs)) {
      yield* Effect.logWarning(
        `the token of ${key} expires ${relativeTime(credentials.expiresAt, now)} (${absoluteTime(credentials.expiresAt)}); ` +
          "a longer run will see it expire: pass --min-valid DURATION to refresh first, or let the tool run `baton token` itself",
      );
    }
    return credentials.accessToken;
  });

/** Resolves every assignment's account and gets its token (each account once). */
export const tokensForRun = (_home: string, plan: ExecPlan, minValidMs: number | undefined) =>
  Effect.gen(function* () {
    const byKey = new Map<string, { readonly account: AccountRef; token?: string }>();
    const environment: Record<string, string> = {};
    for (const { variable, ref } of plan.assignments) {
      const account = yield* resolveAccount(ref);
      const key = accountKey(account);
      let entry = byKey.get(key);
      if (entry === undefined) {
        entry = { account, token: yield* tokenForRun(account, minValidMs) };
        byKey.set(key, entry);
      }
      environment[variable] = entry.token ?? "";
    }
    return { environment, accounts: [...byKey.values()].map((entry) => entry.account) };
  });
