/**
 * `baton host add | list | remove`: which account answers when git or docker asks for a host's credentials
 * (config.json `credentialHosts`, see @baton/adapters CredentialHosts). `add git github.com github:work` makes
 * `baton git-credential` answer github.com with github:work's token; `add docker ghcr.io github:work` does the same
 * for `docker-credential-baton`. A bare PROVIDER follows the provider's default account.
 */
import { CredentialHosts } from "@baton/adapters";
import { InvalidInput } from "@baton/core";
import { Effect, Option } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { table } from "../format.ts";

const KINDS = ["git", "docker"] as const;

const kindArgument = Argument.String("tool").pipe(Argument.withDescription("git or docker"));

const kindOf = (value: string) =>
  (KINDS as ReadonlyArray<string>).includes(value)
    ? Effect.succeed(value as CredentialHosts.HelperKind)
    : Effect.fail(new InvalidInput({ reason: "argument", message: `TOOL: expected git or docker, not "${value}"` }));

const add = Command.make(
  "add",
  {
    tool: kindArgument,
    host: Argument.String("host").pipe(Argument.withDescription("the host git or docker names, e.g. github.com")),
    ref: Argument.String("ref").pipe(Argument.withDescription("PROVIDER:ACCOUNT, or PROVIDER for its default")),
    username: Flag.String("username").pipe(
      Flag.withDescription("user name sent with the token (default: the provider's, oauth2)"),
      Flag.optional,
    ),
  },
  ({ tool, host, ref, username }) =>
    Effect.gen(function* () {
      const kind = yield* kindOf(tool);
      const stored = yield* CredentialHosts.setCredentialHost(kind, host, {
        account: ref,
        ...(Option.isSome(username) ? { username: username.value } : {}),
      });
      yield* Effect.sync(() => process.stderr.write(`${kind} asks for ${stored}: baton answers with ${ref}\n`));
    }),
).pipe(Command.withDescription("Answer a host's credential requests with an account"));

const list = Command.make(
  "list",
  {
    json: Flag.Boolean("json").pipe(Flag.withDescription("machine-readable output"), Flag.withDefault(false)),
  },
  ({ json }) =>
    Effect.gen(function* () {
      const rows: Array<{ tool: string; host: string; account: string; username: string | null }> = [];
      for (const kind of KINDS) {
        for (const entry of yield* CredentialHosts.listCredentialHosts(kind)) {
          rows.push({ tool: kind, host: entry.host, account: entry.account, username: entry.username ?? null });
        }
      }
      const text = json
        ? JSON.stringify({ version: 1, hosts: rows }, null, 2)
        : rows.length === 0
          ? "no hosts mapped yet; run `baton host add git|docker HOST PROVIDER:ACCOUNT`"
          : table(
              ["TOOL", "HOST", "ACCOUNT", "USERNAME"],
              rows.map((row) => [row.tool, row.host, row.account, row.username ?? "-"]),
            );
      yield* Effect.sync(() => process.stdout.write(`${text}\n`));
    }),
).pipe(Command.withDescription("List the hosts mapped to accounts"));

const remove = Command.make("remove", { tool: kindArgument, host: Argument.String("host") }, ({ tool, host }) =>
  Effect.gen(function* () {
    const kind = yield* kindOf(tool);
    yield* CredentialHosts.removeCredentialHost(kind, host);
    yield* Effect.sync(() => process.stderr.write(`${kind} host ${host} is no longer answered by baton\n`));
  }),
).pipe(Command.withDescription("Stop answering a host's credential requests"));

export const hostCommand = Command.make("host").pipe(
  Command.withDescription("Map the hosts git and docker ask about to accounts"),
  Command.withExamples([
    { command: "baton host add git github.com github:work", description: "git asks for github.com: github:work" },
    { command: "baton host add docker ghcr.io github:work", description: "docker asks for ghcr.io: github:work" },
    { command: "baton host list", description: "show the mappings" },
  ]),
  Command.withSubcommands([add, list, remove]),
);
