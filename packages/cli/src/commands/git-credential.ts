/**
 * `baton git-credential [--account REF] [--username U] get|store|erase`: git's credential helper (wire format in
 * ../wire/git-credential.ts). Set up with `git config credential.https://HOST.helper '!baton git-credential --account
 * REF'`, or map hosts with `baton host add git HOST REF` and use `!baton git-credential` for every host.
 *
 * - `get`: a valid access token for the account (refreshed under the protocol when needed) as the password. Only
 *   https requests are answered; an unmapped host gets no answer (exit 0), so git asks its next helper.
 * - `erase`: git calls it after any 401. It never revokes anything: it marks the generation whose token git
 *   presented as stale (a token already replaced is ignored), and the next `get` refreshes that generation once,
 *   under the protocol — a sibling that already refreshed it is adopted instead, so any number of erases of one
 *   generation cause one refresh.
 * - `store`: nothing to store (baton holds the credentials); the input is read and dropped.
 * - any other operation: ignored, as git-credential(1) asks of helpers.
 *
 * A thin client (BATON_SERVER) answers `get` with the broker's hand-out (../serve/thin-helpers.ts); its `erase`
 * marks nothing.
 */
import { type BrokerRequest, StaleMarks } from "@baton/adapters";
import { accountKey, type Credentials, Tokens } from "@baton/core";
import { Clock, Effect, Option } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { CliEnvironment } from "../composition.ts";
import { helperTarget } from "../helper-target.ts";
import { thinHelperAnswer } from "../serve/thin-helpers.ts";
import { readStdinText } from "../stdin.ts";
import { formatGitAnswer, type GitRequest, parseGitRequest, wantsAuthtype } from "../wire/git-credential.ts";
import { handOutExpiry } from "../wire/hand-out.ts";

interface Options {
  readonly account: string | undefined;
  readonly username: string | undefined;
}

/** The host of an https request; `undefined` for anything baton does not answer. */
const httpsHost = (request: GitRequest): string | undefined => {
  const host = request.fields.get("host");
  return request.fields.get("protocol") !== "https" || host === undefined || host === "" ? undefined : host;
};

/** The helper target for an https request; `undefined` for anything baton does not answer. */
const targetOf = (request: GitRequest, options: Options) =>
  Effect.gen(function* () {
    const host = httpsHost(request);
    return host === undefined ? undefined : yield* helperTarget("git", host, options);
  });

/** `get` for a thin client: the broker's hand-out. */
const thinGet = (request: GitRequest, options: Options, server: BrokerRequest.BrokerConnection) =>
  Effect.gen(function* () {
    const host = httpsHost(request);
    if (host === undefined) return;
    const answer = yield* thinHelperAnswer(server, "git", host, options);
    if (answer === undefined) return;
    const text = formatGitAnswer(answer, wantsAuthtype(request));
    yield* Effect.sync(() => process.stdout.write(text));
  });

const get = (request: GitRequest, options: Options) =>
  Effect.gen(function* () {
    const env = yield* CliEnvironment;
    if (env.server !== undefined) return yield* thinGet(request, options, env.server);
    const target = yield* targetOf(request, options);
    if (target === undefined) return;
    const tokens = yield* Tokens.Tokens;
    const stale = yield* StaleMarks.staleGeneration(env.home, target.account);
    const held = stale === undefined ? undefined : yield* tokens.prime(target.account);
    let credentials: Credentials;
    if (held !== undefined && held.generation === stale) {
      yield* Effect.logDebug(`${accountKey(target.account)}: generation ${stale} was refused by git; refreshing it`);
      credentials = yield* tokens.refresh(target.account);
    } else {
      credentials = yield* tokens.credentials(target.account);
    }
    const answer = formatGitAnswer(
      {
        username: target.username,
        token: credentials.accessToken,
        expiresAt: handOutExpiry(credentials, target.provider.revokesAccessTokenOnRefresh ?? false),
      },
      wantsAuthtype(request),
    );
    yield* Effect.sync(() => process.stdout.write(answer));
  });

const erase = (request: GitRequest, options: Options) =>
  Effect.gen(function* () {
    const env = yield* CliEnvironment;
    if (env.server !== undefined) return;
    const target = yield* targetOf(request, options);
    if (target === undefined) return;
    const stored = yield* (yield* Tokens.Tokens).prime(target.account);
    if (stored === undefined) return;
    const presented = request.fields.get("password") ?? request.fields.get("credential");
    if (presented !== undefined && presented !== stored.accessToken) return;
    yield* StaleMarks.markStale(env.home, target.account, stored.generation, yield* Clock.currentTimeMillis);
    yield* Effect.logDebug(`${accountKey(target.account)}: git was refused with generation ${stored.generation}`);
  });

export const gitCredentialCommand = Command.make(
  "git-credential",
  {
    account: Flag.String("account").pipe(
      Flag.withDescription("PROVIDER:ACCOUNT (or PROVIDER) to answer with; default: the host's mapping"),
      Flag.optional,
    ),
    username: Flag.String("username").pipe(
      Flag.withDescription("user name sent with the token (default: the host mapping's, the provider's, oauth2)"),
      Flag.optional,
    ),
    operation: Argument.String("operation").pipe(Argument.withDescription("get, store or erase (git appends it)")),
  },
  ({ account, username, operation }) =>
    Effect.gen(function* () {
      const request = parseGitRequest(yield* readStdinText());
      const options = { account: Option.getOrUndefined(account), username: Option.getOrUndefined(username) };
      if (operation === "get") return yield* get(request, options);
      if (operation === "erase") return yield* erase(request, options);
    }),
).pipe(
  Command.withDescription("git credential helper: a valid access token as the password for a mapped host"),
  Command.withExamples([
    {
      command: "git config --global credential.https://github.com.helper '!baton git-credential --account github:work'",
      description: "answer for github.com with github:work",
    },
    { command: "baton host add git github.com github:work", description: "or map hosts, then use one helper" },
  ]),
);
