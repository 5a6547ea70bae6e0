/**
 * `baton provider add | list | remove`: the provider registry. `add` discovers the issuer's endpoints (RFC 8414 /
 * OpenID Connect discovery) once and stores them, so token requests need no discovery round trip — or takes them,
 * with the provider's behaviour, from a preset or from explicit endpoint flags (@baton/adapters ProviderSpec). A
 * client secret is read from stdin, never from the command line (I8).
 */
import { Discovery, ProviderConfig, ProviderPresets, ProviderRegistry, ProviderSpec } from "@baton/adapters";
import { InvalidInput } from "@baton/core";
import { Effect, Option } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { table } from "../format.ts";
import { jsonFlag } from "../json-flag.ts";
import { readStdinText } from "../stdin.ts";

const endpointFlag = (name: string, what: string) =>
  Flag.String(name).pipe(Flag.withDescription(`${what} (explicit endpoints: no discovery)`), Flag.optional);

/** The client secret from stdin (never a process argument, I8): the first line, without its line break. */
const clientSecretFromStdin = (wanted: boolean) =>
  Effect.gen(function* () {
    if (!wanted) return undefined;
    if (process.stdin.isTTY === true) {
      return yield* new InvalidInput({
        reason: "argument",
        message: '--client-secret-stdin: pipe the secret in, e.g. `printf %s "$SECRET" | baton provider add …`',
      });
    }
    const secret = (yield* readStdinText()).split(/\r?\n/)[0] ?? "";
    if (secret === "")
      return yield* new InvalidInput({ reason: "argument", message: "--client-secret-stdin: stdin is empty" });
    return secret;
  });

const add = Command.make(
  "add",
  {
    name: Argument.String("name").pipe(Argument.withDescription("a short name, e.g. github")),
    issuer: Flag.String("issuer").pipe(
      Flag.withDescription("the authorization server's issuer URL (discovery), unless --preset or --token-endpoint"),
      Flag.optional,
    ),
    clientId: Flag.String("client-id").pipe(Flag.withDescription("this client's id at the provider")),
    clientSecretStdin: Flag.Boolean("client-secret-stdin").pipe(
      Flag.withDescription("read the client secret (confidential clients) from stdin"),
      Flag.withDefault(false),
    ),
    scope: Flag.String("scope").pipe(Flag.withDescription("scopes to request (space-separated)"), Flag.optional),
    graceWindow: Flag.Int("grace-window").pipe(
      Flag.withDescription("seconds in which the provider accepts a rotated refresh token again (rotation grace)"),
      Flag.optional,
    ),
    deviceOnly: Flag.Boolean("device-only").pipe(
      Flag.withDescription("log in with the device flow only (RFC 8628)"),
      Flag.withDefault(false),
    ),
    preset: Flag.String("preset").pipe(
      Flag.withDescription(`a known provider: ${ProviderPresets.PRESET_NAMES.join(", ")}`),
      Flag.optional,
    ),
    tenant: Flag.String("tenant").pipe(
      Flag.withDescription("--preset microsoft: tenant (default common); okta: authorization server; keycloak: realm"),
      Flag.optional,
    ),
    domain: Flag.String("domain").pipe(
      Flag.withDescription("--preset auth0/okta/keycloak (and self-hosted gitlab/github): the provider's host"),
      Flag.optional,
    ),
    tokenEndpoint: endpointFlag("token-endpoint", "the token endpoint"),
    authorizationEndpoint: endpointFlag("authorization-endpoint", "the authorization endpoint"),
    deviceEndpoint: endpointFlag("device-endpoint", "the device authorization endpoint"),
    revocationEndpoint: endpointFlag("revocation-endpoint", "the revocation endpoint"),
    introspectionEndpoint: endpointFlag("introspection-endpoint", "the introspection endpoint"),
    authParam: Flag.String("auth-param").pipe(
      Flag.withDescription("extra authorization request parameter KEY=VALUE (repeatable), e.g. access_type=offline"),
      Flag.atLeast(0),
    ),
    rotation: Flag.String("rotation").pipe(
      Flag.withDescription("how the provider treats a refresh token used twice: strict, grace or none"),
      Flag.optional,
    ),
    revokesAccessToken: Flag.Boolean("revokes-access-token").pipe(
      Flag.withDescription("a refresh also revokes the access token it replaces (like GitLab)"),
      Flag.withDefault(false),
    ),
    username: Flag.String("username").pipe(
      Flag.withDescription("user name git and docker send with the token (default: the preset's, oauth2)"),
      Flag.optional,
    ),
  },
  (flags) =>
    Effect.gen(function* () {
      const value = <A>(option: Option.Option<A>) => Option.getOrUndefined(option);
      const spec = ProviderSpec.resolveProviderSpec({
        name: flags.name,
        clientId: flags.clientId,
        clientSecret: yield* clientSecretFromStdin(flags.clientSecretStdin),
        issuer: value(flags.issuer),
        scope: value(flags.scope),
        graceWindowSeconds: value(flags.graceWindow),
        deviceOnly: flags.deviceOnly,
        preset: value(flags.preset),
        tenant: value(flags.tenant),
        domain: value(flags.domain),
        endpoints: Object.fromEntries(
          [
            ["token_endpoint", value(flags.tokenEndpoint)],
            ["authorization_endpoint", value(flags.authorizationEndpoint)],
            ["device_authorization_endpoint", value(flags.deviceEndpoint)],
            ["revocation_endpoint", value(flags.revocationEndpoint)],
            ["introspection_endpoint", value(flags.introspectionEndpoint)],
          ].filter((entry): entry is [string, string] => entry[1] !== undefined),
        ),
        authParams: flags.authParam,
        rotation: value(flags.rotation),
        revokesAccessToken: flags.revokesAccessToken,
        username: value(flags.username),
      });
      if (spec instanceof InvalidInput) return yield* spec;
      const explicit = spec.explicit;
      const stored = yield* ProviderRegistry.addProvider(
        spec.input,
        explicit === undefined ? Discovery.discover : () => Effect.succeed(explicit),
      );
      const how =
        explicit === undefined ? "discovered" : flags.preset._tag === "Some" ? "preset" : "explicit endpoints";
      yield* Effect.sync(() =>
        process.stderr.write(
          `added provider ${stored.name} (${stored.issuer}): ${how}, rotation ${ProviderConfig.rotationOf(stored)}\n` +
            (spec.note === undefined ? "" : `note: ${spec.note}\n`),
        ),
      );
    }),
).pipe(
  Command.withDescription("Register a provider: discovered from its issuer, from a preset, or from explicit endpoints"),
  Command.withExamples([
    {
      command: "baton provider add corp --issuer https://login.corp.example --client-id baton-cli",
      description: "discover the endpoints (RFC 8414 / OpenID Connect)",
    },
    {
      command:
        'printf %s "$SECRET" | baton provider add github --preset github --client-id Iv1.abc --client-secret-stdin',
      description: "a preset: endpoints and behaviour built in",
    },
    {
      command:
        "baton provider add idp --token-endpoint https://idp.example/token --authorization-endpoint https://idp.example/authorize --client-id x",
      description: "explicit endpoints, no discovery",
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
      const providers = (yield* ProviderRegistry.listProviders()).map(ProviderConfig.summarize);
      const text = json
        ? JSON.stringify({ version: 1, providers }, null, 2)
        : providers.length === 0
          ? "no providers yet; run `baton provider add NAME --issuer URL --client-id ID`"
          : table(
              ["NAME", "ISSUER", "CLIENT", "SCOPE", "ROTATION", "GRACE", "DEVICE-ONLY"],
              providers.map((p) => [
                p.name,
                p.issuer,
                p.clientId,
                p.scope ?? "-",
                p.rotation,
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
    yield* ProviderRegistry.removeProvider(name);
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
