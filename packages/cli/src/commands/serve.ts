/**
 * `baton serve [--listen unix:PATH | --listen HOST:PORT] [--tls-cert FILE --tls-key FILE | --insecure-loopback]
 * [--max-connections N]`: runs the broker in the foreground (docs/serve.md): it keeps this store's accounts fresh and
 * lends their access tokens — never a refresh token — to thin clients (BATON_SERVER) over a small HTTP/JSON API. The
 * default listener is a unix socket under BATON_HOME (0600 in a 0700 directory); TCP needs TLS, except on loopback
 * with `--insecure-loopback`. SIGTERM or SIGINT stop it: it stops accepting, finishes the requests in progress (a
 * refresh on the wire is stored first) and exits 128 + N. It prints no token: its log lines on stderr name accounts,
 * clients and fingerprints.
 *
 * `baton serve client add NAME [--account REF]…` prints a new client token, alone on stdout (the broker keeps only
 * its hash), limited to the accounts given (PROVIDER:ACCOUNT, or PROVIDER for all of its accounts; default: every
 * account); `client list [--json]` and `client remove NAME` manage them.
 */
import { ClientRegistry, SecureFiles } from "@baton/adapters";
import { InvalidInput } from "@baton/core";
import { Clock, Effect, Option } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { CliEnvironment } from "../composition.ts";
import { messageOf } from "../exit-codes.ts";
import { absoluteTime, table } from "../format.ts";
import { jsonFlag } from "../json-flag.ts";
import { logLine } from "../log-line.ts";
import { handle } from "../serve/api.ts";
import { makeBroker } from "../serve/broker.ts";
import { FailureLimiter } from "../serve/failure-limiter.ts";
import { startServer } from "../serve/http-server.ts";
import { clientAddress, defaultSocketPath, listenPlan, prepareSocketPath, SOCKET_PARTS } from "../serve/listen.ts";

/** How long a stopping broker lets requests in progress finish. */
const STOP_GRACE_MS = 10_000;

const warn = (text: string) => process.stderr.write(logLine("warn", text, undefined));

const optionalString = (name: string, description: string) =>
  Flag.String(name).pipe(Flag.withDescription(description), Flag.optional);

const run = Command.make(
  "serve",
  {
    listen: optionalString("listen", "unix:PATH, or HOST:PORT for TCP (default: a unix socket under BATON_HOME)"),
    tlsCert: optionalString("tls-cert", "PEM certificate chain for TCP"),
    tlsKey: optionalString("tls-key", "PEM private key for TCP"),
    insecureLoopback: Flag.Boolean("insecure-loopback").pipe(
      Flag.withDescription("plain TCP without TLS, on a loopback address only"),
      Flag.withDefault(false),
    ),
    maxConnections: Flag.Int("max-connections").pipe(
      Flag.withDescription("connections open at once; more are closed at once"),
      Flag.withDefault(256),
    ),
  },
  (flags) =>
    Effect.gen(function* () {
      const env = yield* CliEnvironment;
      if (flags.maxConnections < 1) {
        return yield* new InvalidInput({ reason: "argument", message: "--max-connections: expected at least 1" });
      }
      const plan = listenPlan(env.home, {
        listen: Option.getOrUndefined(flags.listen),
        tlsCert: Option.getOrUndefined(flags.tlsCert),
        tlsKey: Option.getOrUndefined(flags.tlsKey),
        insecureLoopback: flags.insecureLoopback,
      });
      if (plan instanceof InvalidInput) return yield* plan;
      if (plan.kind === "unix") {
        const warnings = yield* Effect.tryPromise({
          try: async () => {
            const found: Array<string> = [];
            if (plan.path === defaultSocketPath(env.home)) {
              await SecureFiles.secureDir(env.home, SOCKET_PARTS, true, (message) => found.push(message));
            }
            return [...found, ...(await prepareSocketPath(plan.path))];
          },
          catch: (error) =>
            error instanceof InvalidInput
              ? error
              : new InvalidInput({ reason: "argument", message: `cannot listen on ${plan.path}: ${messageOf(error)}` }),
        });
        for (const warning of warnings) warn(warning);
      }
      const clients = yield* ClientRegistry.list;
      if (plan.kind === "tcp" && clients.length === 0) {
        warn("no client tokens yet, so every TCP request is refused: `baton serve client add NAME` makes one");
      }
      const { broker, accounts } = yield* makeBroker({
        onProblem: (about, error) => warn(`${about}: ${messageOf(error)}`),
      });
      const limiter = new FailureLimiter();
      const server = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: () =>
            startServer(plan, flags.maxConnections, async (request) => {
              const answer = await handle(request, broker, limiter);
              if (answer.status === 401) warn(`refused a client token from ${request.source}`);
              return answer;
            }),
          catch: (error) =>
            new InvalidInput({ reason: "argument", message: `cannot listen as asked: ${messageOf(error)}` }),
        }),
        (running) => Effect.promise(() => running.close(STOP_GRACE_MS).then(() => broker.close(STOP_GRACE_MS))),
      );
      const address = clientAddress(plan, server.port);
      yield* Effect.sync(() =>
        process.stderr.write(
          `baton: serving ${accounts} account${accounts === 1 ? "" : "s"} on ${address}; clients set BATON_SERVER=${address}\n`,
        ),
      );
      return yield* Effect.never;
    }).pipe(Effect.scoped),
).pipe(
  Command.withDescription("Lend access tokens to thin clients (BATON_SERVER): a broker that keeps accounts fresh"),
  Command.withExamples([
    { command: "baton serve", description: "on a unix socket under BATON_HOME" },
    {
      command: "baton serve --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem",
      description: "over TCP with TLS (clients need a client token)",
    },
  ]),
);

const add = Command.make(
  "add",
  {
    name: Argument.String("name").pipe(Argument.withDescription("a name for the client (letters, digits, . _ -)")),
    account: Flag.String("account").pipe(
      Flag.withDescription("PROVIDER:ACCOUNT or PROVIDER it may use (repeatable; default: every account)"),
      Flag.atLeast(0),
    ),
  },
  ({ name, account }) =>
    Effect.gen(function* () {
      const token = yield* ClientRegistry.add(name, account, yield* Clock.currentTimeMillis);
      yield* Effect.sync(() => {
        process.stdout.write(`${token}\n`);
        process.stderr.write(
          `client ${name} may use ${account.length === 0 ? "every account" : account.join(", ")}; give it the token above as BATON_SERVER_TOKEN (it is not shown again)\n`,
        );
      });
    }),
).pipe(Command.withDescription("Issue a client token (printed alone on stdout; the broker keeps its hash)"));

const list = Command.make("list", { json: jsonFlag }, ({ json }) =>
  Effect.gen(function* () {
    const clients = yield* ClientRegistry.list;
    const text = json
      ? JSON.stringify(
          {
            version: 1,
            clients: clients.map((client) => ({
              name: client.name,
              accounts: client.accounts ?? null,
              createdAt: client.createdAt,
            })),
          },
          null,
          2,
        )
      : clients.length === 0
        ? "no clients yet; run `baton serve client add NAME`"
        : table(
            ["CLIENT", "ACCOUNTS", "CREATED"],
            clients.map((client) => [
              client.name,
              client.accounts?.join(", ") ?? "every account",
              absoluteTime(client.createdAt),
            ]),
          );
    yield* Effect.sync(() => process.stdout.write(`${text}\n`));
  }),
).pipe(Command.withDescription("List the client tokens the broker accepts (names and accounts, never tokens)"));

const remove = Command.make(
  "remove",
  { name: Argument.String("name").pipe(Argument.withDescription("the client to refuse from now on")) },
  ({ name }) =>
    Effect.gen(function* () {
      yield* ClientRegistry.remove(name);
      yield* Effect.sync(() => process.stderr.write(`client ${name}'s token is refused from now on\n`));
    }),
).pipe(Command.withDescription("Refuse a client's token from now on (a running broker too)"));

const client = Command.make("client").pipe(
  Command.withDescription("Manage the client tokens of the broker"),
  Command.withSubcommands([add, list, remove]),
);

export const serveCommand = run.pipe(Command.withSubcommands([client]));
