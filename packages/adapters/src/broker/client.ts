/**
 * A thin client's calls to a broker as Effects: a hand-out, what a reference names, the status document, the mapped
 * hosts. Each failure becomes the error a local `baton` would have raised, with the same exit code: a broker that is
 * down or stopped answering is `Retryable` ("network", exit 4), a refused client token or a forbidden account is
 * `InvalidInput` (exit 2), an account that needs a login is `LoginRequired` (exit 3), an unknown one `NotFound` (5).
 */
import {
  type AccountRef,
  type AccountStatus,
  accountFromKey,
  type BatonError,
  InvalidInput,
  LoginRequired,
  NotFound,
  Retryable,
} from "@baton/core";
import { Effect, Schema } from "effect";
import { askBroker, type BrokerConnection } from "./request.ts";
import {
  type BrokerProblem,
  decodeHandOut,
  type HandOut,
  type HelperTool,
  PATHS,
  type TokenQuery,
  tokenPath,
} from "./wire.ts";

const LOGIN_REASONS: ReadonlyArray<LoginRequired["reason"]> = [
  "no-credentials",
  "revoked",
  "in-doubt",
  "no-refresh-token",
  "logged-out",
  "issuer-changed",
];

const RETRYABLE_REASONS: ReadonlyArray<Retryable["reason"]> = [
  "lock-timeout",
  "server-error",
  "rate-limited",
  "network",
  "in-flight-elsewhere",
  "store-unavailable",
  "persist-failed",
  "backing-off",
  "interrupted",
];

const oneOf = <A extends string>(values: ReadonlyArray<A>, value: string, fallback: A): A =>
  (values as ReadonlyArray<string>).includes(value) ? (value as A) : fallback;

/** The error a local `baton` raises for what the broker (or the way to it) reported; `internal` is a defect. */
export const problemToError = (problem: BrokerProblem, about: string): Effect.Effect<never, BatonError> => {
  const account = problem.account ?? about;
  const retryAfter = problem.retryAfterMs === undefined ? {} : { retryAfterMs: problem.retryAfterMs };
  switch (problem.class) {
    case "login-required":
      return Effect.fail(
        new LoginRequired({
          account,
          reason: oneOf(LOGIN_REASONS, problem.reason, "no-credentials"),
          message: problem.message,
        }),
      );
    case "retryable":
    case "unreachable":
    case "rate-limited":
      return Effect.fail(
        new Retryable({
          account,
          reason:
            problem.class === "retryable"
              ? oneOf(RETRYABLE_REASONS, problem.reason, "server-error")
              : problem.class === "rate-limited"
                ? "rate-limited"
                : "network",
          message: problem.message,
          ...retryAfter,
        }),
      );
    case "not-found":
      return Effect.fail(
        new NotFound({
          what: problem.reason === "provider" ? "provider" : "account",
          name: account,
          message: problem.message,
        }),
      );
    case "unauthorized":
      return Effect.fail(new InvalidInput({ reason: "config", message: problem.message }));
    case "invalid-request":
    case "forbidden":
    case "invalid-input":
      return Effect.fail(
        new InvalidInput({
          reason: ["tls", "permission", "client-token", "not-a-broker"].includes(problem.reason)
            ? "config"
            : "argument",
          message: problem.message,
        }),
      );
    case "internal":
      return Effect.die(new Error(problem.message));
  }
};

const ask = <A>(connection: BrokerConnection, path: string, decode: (body: unknown) => A | undefined, about: string) =>
  Effect.flatMap(
    Effect.promise(() => askBroker(connection, path, decode)),
    (answer): Effect.Effect<A, BatonError> =>
      "ok" in answer ? Effect.succeed(answer.ok) : problemToError(answer.problem, about),
  );

/** An access token and its particulars for an account reference or a mapped host. */
export const handOut = (connection: BrokerConnection, query: TokenQuery): Effect.Effect<HandOut, BatonError> =>
  ask(connection, tokenPath(query), decodeHandOut, "account" in query ? query.account : query.host);

/** {@link handOut}, with the address of the broker that lent it (one of the connection's list). */
export const handOutFrom = (
  connection: BrokerConnection,
  query: TokenQuery,
): Effect.Effect<{ readonly handOut: HandOut; readonly from: string }, BatonError> =>
  Effect.flatMap(
    Effect.promise(() => askBroker(connection, tokenPath(query), decodeHandOut)),
    (answer): Effect.Effect<{ readonly handOut: HandOut; readonly from: string }, BatonError> =>
      "ok" in answer
        ? Effect.succeed({ handOut: answer.ok, from: answer.from })
        : problemToError(answer.problem, "account" in query ? query.account : query.host),
  );

/**
 * The hand-out for the account the broker maps `host` to for `tool` (`baton host add` on the broker's host), or
 * `undefined` when it maps nothing to that host — the helper then stays silent and the tool asks elsewhere.
 */
export const handOutForHost = (
  connection: BrokerConnection,
  tool: HelperTool,
  host: string,
): Effect.Effect<HandOut | undefined, BatonError> =>
  Effect.flatMap(
    Effect.promise(() => askBroker(connection, tokenPath({ tool, host }), decodeHandOut)),
    (answer): Effect.Effect<HandOut | undefined, BatonError> =>
      "ok" in answer
        ? Effect.succeed(answer.ok)
        : answer.problem.class === "not-found" && answer.problem.reason === "host"
          ? Effect.succeed(undefined)
          : problemToError(answer.problem, host),
  );

const decodeAccount = (body: unknown): AccountRef | undefined => {
  if (typeof body !== "object" || body === null || !("account" in body) || typeof body.account !== "string") {
    return undefined;
  }
  const ref = accountFromKey(body.account);
  return ref.provider !== "" && ref.account !== "" && body.account.includes(":") ? ref : undefined;
};

/** The account `ref` (PROVIDER or PROVIDER:ACCOUNT) names on the broker: a bare provider's default is the broker's. */
export const resolveAccount = (connection: BrokerConnection, ref: string): Effect.Effect<AccountRef, BatonError> =>
  ask(connection, `${PATHS.account}?${new URLSearchParams({ ref })}`, decodeAccount, ref);

const Identity = Schema.Struct({
  subject: Schema.optionalKey(Schema.String),
  email: Schema.optionalKey(Schema.String),
  name: Schema.optionalKey(Schema.String),
});

/** One account of the status document (`baton status --json`), as the broker sends it. */
export const StatusRow = Schema.Struct({
  account: Schema.String,
  state: Schema.String,
  generation: Schema.Number,
  accessFp: Schema.NullOr(Schema.String),
  expiresAt: Schema.NullOr(Schema.Number),
  lastRefreshAt: Schema.NullOr(Schema.Number),
  storage: Schema.String,
  lastError: Schema.NullOr(Schema.Struct({ reason: Schema.String, at: Schema.Number })),
  inDoubt: Schema.NullOr(
    Schema.Struct({ generation: Schema.Number, host: Schema.String, pid: Schema.Number, at: Schema.Number }),
  ),
  identity: Schema.NullOr(Identity),
  clockSkewMs: Schema.NullOr(Schema.Number),
  retryAt: Schema.NullOr(Schema.Number),
  events: Schema.Number,
  note: Schema.NullOr(Schema.String),
  default: Schema.Boolean,
  sessions: Schema.Number,
});
export type StatusRow = typeof StatusRow.Type & AccountStatus;

const StatusDocument = Schema.Struct({ version: Schema.Literal(1), accounts: Schema.Array(StatusRow) });
const decodeStatusDocument = Schema.decodeUnknownOption(StatusDocument);

/** The broker's status of `ref`'s account, or of every account this client may use. */
export const status = (
  connection: BrokerConnection,
  ref: string | undefined,
): Effect.Effect<ReadonlyArray<StatusRow>, BatonError> =>
  ask(
    connection,
    ref === undefined ? PATHS.status : `${PATHS.status}?${new URLSearchParams({ account: ref })}`,
    (body) => {
      const decoded = decodeStatusDocument(body);
      return decoded._tag === "Some" ? decoded.value.accounts : undefined;
    },
    ref ?? "every account",
  );

export interface MappedHost {
  readonly host: string;
  readonly username: string;
}

const decodeHosts = (body: unknown): ReadonlyArray<MappedHost> | undefined => {
  if (typeof body !== "object" || body === null || !("hosts" in body) || !Array.isArray(body.hosts)) return undefined;
  const hosts: Array<MappedHost> = [];
  for (const entry of body.hosts as ReadonlyArray<unknown>) {
    if (typeof entry !== "object" || entry === null) return undefined;
    if (!("host" in entry) || !("username" in entry)) return undefined;
    if (typeof entry.host !== "string" || typeof entry.username !== "string") return undefined;
    hosts.push({ host: entry.host, username: entry.username });
  }
  return hosts;
};

/** The hosts the broker maps to accounts this client may use, for `tool`. */
export const hosts = (
  connection: BrokerConnection,
  tool: HelperTool,
): Effect.Effect<ReadonlyArray<MappedHost>, BatonError> =>
  ask(connection, `${PATHS.hosts}?${new URLSearchParams({ tool })}`, decodeHosts, tool);
