/**
 * `baton provider add | list | remove`: the provider registry. `add` discovers the issuer's endpoints (RFC 8414 /
 * OpenID Connect discovery) once and stores them, so token requests need no discovery round trip.
 */
import { Discovery, ProviderConfig, ProviderRegistry } from "@baton/adapters";
import { Effect, Option } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { CliEnvironment } from "../composition.ts";
import { table } from "../format.ts";
import { jsonFlag } from "../json-flag.ts";

const add = Command.make(
  "add",
  {
    name: Argument.String("name").pipe(Argument.withDescription("a short name, e.g. github")),
    issuer: Flag.String("issuer").pipe(Flag.withDescription("the authorization server's issuer URL")),
    clientId: Flag.String("client-id").pipe(Flag.withDescription("this client's id at the provider")),
    scope: Flag.String("scope").pipe(Flag.withDescription("scopes to request (space-separated)"), Flag.optional),
    graceWindow: Flag.Int("grace-window").pipe(
      Flag.withDescription("seconds in which the provider accepts one retry of an in-doubt refresh (default 0)"),
      Flag.withDefault(0),
    ),
    deviceOnly: Flag.Boolean("device-only").pipe(
      Flag.withDescription("log in with the device flow only (RFC 8628)"),
      Flag.withDefault(false),
    ),
  },
  ({ name, issuer, clientId, scope, graceWindow, deviceOnly }) =>
    Effect.gen(function* () {
      const env = yield* CliEnvironment;
      const stored = yield* ProviderRegistry.addProvider(
        env.home,
        {
          name,
          issuer,
          clientId,
          ...(Option.isSome(scope) ? { scope: scope.value } : {}),
          graceWindowSeconds: graceWindow,
          deviceOnly,
        },
        Discovery.discover,
      );
      yield* Effect.sync(() => process.stderr.write(`added provider ${stored.name} (${stored.issuer})\n`));
    }),
).pipe(
  Command.withDescription("Register a provider (discovers its endpoints from the issuer)"),
  Command.withExamples([
    {
      command: "baton provider add github --issuer https://github.com/login/oauth --client-id Iv1.abc --scope repo",
      description: "register a provider",
    },
  ]),
);

const list = Command.make(
  "list",
  {
    json: jsonFlag,
  },
  ({ json }) =>
    Effect.gen(function* () {
      const env = yield* CliEnvironment;
      const providers = (yield* ProviderRegistry.listProviders(env.home)).map(ProviderConfig.summarize);
      const text = json
        ? JSON.stringify({ version: 1, providers }, null, 2)
        : providers.length === 0
          ? "no providers yet; run `baton provider add NAME --issuer URL --client-id ID`"
          : table(
              ["NAME", "ISSUER", "CLIENT", "SCOPE", "GRACE", "DEVICE-ONLY"],
              providers.map((p) => [
                p.name,
                p.issuer,
                p.clientId,
                p.scope ?? "-",
                `${p.graceWindowSeconds}s`,
                p.deviceOnly ? "yes" : "no",
              ]),
            );
      yield* Effect.sync(() => process.stdout.write(`${text}\n`));
    }),
).pipe(
  Command.withDescription("List registered providers"),
  Command.withExamples([
    { command: "baton provider list", description: "a table of providers" },
    { command: "baton provider list --json", description: "machine-readable, without client secrets" },
  ]),
);

const remove = Command.make("remove", { name: Argument.String("name") }, ({ name }) =>
  Effect.gen(function* () {
    const env = yield* CliEnvironment;
    yield* ProviderRegistry.removeProvider(env.home, name);
    yield* Effect.sync(() =>
      process.stderr.write(`removed provider ${name} (stored credentials are kept; use \`baton logout\`)\n`),
    );
  }),
).pipe(
  Command.withDescription("Unregister a provider"),
  Command.withExamples([{ command: "baton provider remove github", description: "forget the github provider" }]),
);

export const providerCommand = Command.make("provider").pipe(
  Command.withDescription("Manage OAuth providers"),
  Command.withExamples([
    {
      command: "baton provider add github --issuer https://issuer.example --client-id ID",
      description: "register one",
    },
    { command: "baton provider list", description: "show them" },
  ]),
  Command.withSubcommands([add, list, remove]),
);
