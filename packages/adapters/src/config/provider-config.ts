/**
 * The provider registry file, `<BATON_HOME>/config.json`, as an Effect Schema (version 1) with a decoder whose
 * errors name the file and the field (`config.json: providers.github.issuer: expected a URL`) and never quote a
 * value (a client secret may sit next to the broken field, I8).
 *
 *   { "version": 1,
 *     "providers": { NAME: { issuer, clientId, clientSecret?, scope?, graceWindowSeconds = 0, deviceOnly = false,
 *                            preset?, rotation?, revokesAccessTokenOnRefresh?, authorizationParameters?, username?,
 *                            metadata?: { token_endpoint, authorization_endpoint?, device_authorization_endpoint?,
 *                                         revocation_endpoint?, introspection_endpoint?,
 *                                         authorization_response_iss_parameter_supported?,
 *                                         id_token_signing_alg_values_supported?,
 *                                         token_endpoint_auth_methods_supported? } } },
 *     "defaults": { PROVIDER: ACCOUNT },
 *     "credentialHosts"?: { "git"?: { HOST: { account, username? } }, "docker"?: { HOST: { account, username? } } } }
 *
 * `metadata` is what discovery found when the provider was added (RFC 8414 §2 names), or the endpoints given
 * explicitly or by a preset, stored so that later processes need no network round trip for it. The provider's
 * behaviour (see provider-presets.ts): `rotation` (strict single use, a grace window, or none), whether a refresh
 * revokes the previous access token, extra authorization request parameters, and the user name tools pair with its
 * access tokens. `credentialHosts` maps the hosts git and docker ask about to accounts (credential-hosts.ts). Unknown fields are errors: a typo (`clientID`) is reported, not
 * silently ignored. URLs must be https, or http on a loopback host (RFC 8252 §8.3; the local test server).
 */
import { isValidName, type ProviderProfile } from "@baton/core";
import { Effect, Exit, Schema, SchemaIssue } from "effect";

export const CONFIG_VERSION = 1;

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Whether `url` is http(s) and either https or plain http on a loopback host. */
export const isAcceptableEndpoint = (url: string): boolean => {
  const parsed = URL.parse(url);
  if (parsed === null) return false;
  if (parsed.protocol === "https:") return true;
  return parsed.protocol === "http:" && LOOPBACK_HOSTS.has(parsed.hostname);
};

/** Whether `url` is plain http on a loopback host (the only case oauth4webapi's `allowInsecureRequests` is used). */
export const isLoopbackHttp = (url: string): boolean => {
  const parsed = URL.parse(url);
  return parsed !== null && parsed.protocol === "http:" && LOOPBACK_HOSTS.has(parsed.hostname);
};

const EndpointUrl = Schema.String.check(
  Schema.makeFilter((value: string) =>
    URL.parse(value) === null
      ? "expected a URL"
      : isAcceptableEndpoint(value)
        ? undefined
        : "expected an https URL (plain http only on 127.0.0.1, localhost or [::1])",
  ),
);

const Name = Schema.String.check(
  Schema.makeFilter((value: string) =>
    isValidName(value) ? undefined : 'expected a name of letters, digits, ".", "_" or "-" (at most 64)',
  ),
);

/** RFC 8414 §2 authorization server metadata, reduced to what baton uses. */
export const ProviderMetadata = Schema.Struct({
  token_endpoint: EndpointUrl,
  authorization_endpoint: Schema.optionalKey(EndpointUrl),
  device_authorization_endpoint: Schema.optionalKey(EndpointUrl),
  revocation_endpoint: Schema.optionalKey(EndpointUrl),
  introspection_endpoint: Schema.optionalKey(EndpointUrl),
  /** RFC 9207 §3: the server puts `iss` in every authorization response. */
  authorization_response_iss_parameter_supported: Schema.optionalKey(Schema.Boolean),
  /** OpenID Connect Discovery: needed to accept the algorithm of ID tokens in token responses. */
  id_token_signing_alg_values_supported: Schema.optionalKey(Schema.Array(Schema.String)),
  token_endpoint_auth_methods_supported: Schema.optionalKey(Schema.Array(Schema.String)),
});
export type ProviderMetadata = typeof ProviderMetadata.Type;

/**
 * What the provider does when a refresh token is presented: `strict` — single use, a second presentation is taken as
 * theft (the family is revoked); `grace` — single use, but the previous token is accepted again for
 * `graceWindowSeconds`; `none` — the refresh token does not rotate, or old ones stay valid (presenting one again is
 * harmless).
 */
export const Rotation = Schema.Literals(["strict", "grace", "none"]);
export type Rotation = typeof Rotation.Type;

/** Extra authorization request parameters (e.g. Google's `access_type=offline`), never the ones baton sets itself. */
export const RESERVED_AUTHORIZATION_PARAMETERS: ReadonlySet<string> = new Set([
  "client_id",
  "response_type",
  "redirect_uri",
  "scope",
  "state",
  "code_challenge",
  "code_challenge_method",
]);

const AuthorizationParameters = Schema.Record(
  Schema.String.check(
    Schema.makeFilter((key: string) =>
      !/^[A-Za-z0-9_.-]{1,64}$/.test(key)
        ? "expected a parameter name of letters, digits, '_', '.' or '-'"
        : RESERVED_AUTHORIZATION_PARAMETERS.has(key)
          ? "is set by baton itself"
          : undefined,
    ),
  ),
  Schema.String,
);

/** A user name sent beside an access token (git's `username`, docker's `Username`). */
export const UserName = Schema.String.check(
  Schema.isPattern(/^[\x21-\x7e]{1,128}$/, { message: "expected 1-128 visible ASCII characters" }),
);

export const ProviderEntry = Schema.Struct({
  issuer: EndpointUrl,
  clientId: Schema.NonEmptyString,
  clientSecret: Schema.optionalKey(Schema.NonEmptyString),
  scope: Schema.optionalKey(Schema.String),
  graceWindowSeconds: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 86_400 })).pipe(
    Schema.withDecodingDefaultTypeKey(Effect.succeed(0)),
  ),
  deviceOnly: Schema.Boolean.pipe(Schema.withDecodingDefaultTypeKey(Effect.succeed(false))),
  /** The preset the provider was added from (`provider add --preset`), for display. */
  preset: Schema.optionalKey(Schema.String),
  /** Absent in records written before it existed: `grace` when a grace window is set, else `strict`. */
  rotation: Schema.optionalKey(Rotation),
  /** A refresh also revokes the access token it replaces (GitLab). */
  revokesAccessTokenOnRefresh: Schema.optionalKey(Schema.Boolean),
  authorizationParameters: Schema.optionalKey(AuthorizationParameters),
  /** The user name tools pair with this provider's access tokens (git, docker); default `oauth2`. */
  username: Schema.optionalKey(UserName),
  metadata: Schema.optionalKey(ProviderMetadata),
});
export type ProviderEntry = typeof ProviderEntry.Type;

/** A host as git names it (`github.com`, `git.example:8443`) or a registry as docker does, lower-cased. */
export const HostName = Schema.String.check(
  Schema.isPattern(/^[a-z0-9]([a-z0-9.-]{0,252})(:[0-9]{1,5})?$/, {
    message: "expected a host name, optionally with :PORT (lower case)",
  }),
);

/** The account a host's credentials come from (`PROVIDER` for its default account, or `PROVIDER:ACCOUNT`). */
export const HostEntry = Schema.Struct({
  account: Schema.String.check(
    Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(:[A-Za-z0-9][A-Za-z0-9._-]{0,63})?$/, {
      message: "expected PROVIDER or PROVIDER:ACCOUNT",
    }),
  ),
  username: Schema.optionalKey(UserName),
});
export type HostEntry = typeof HostEntry.Type;

export const CredentialHosts = Schema.Struct({
  git: Schema.optionalKey(Schema.Record(HostName, HostEntry)),
  docker: Schema.optionalKey(Schema.Record(HostName, HostEntry)),
});
export type CredentialHosts = typeof CredentialHosts.Type;

export const BatonConfig = Schema.Struct({
  version: Schema.Literal(CONFIG_VERSION),
  providers: Schema.Record(Name, ProviderEntry).pipe(Schema.withDecodingDefaultTypeKey(Effect.succeed({}))),
  defaults: Schema.Record(Name, Name).pipe(Schema.withDecodingDefaultTypeKey(Effect.succeed({}))),
  credentialHosts: Schema.optionalKey(CredentialHosts),
});
export type BatonConfig = typeof BatonConfig.Type;

export const emptyConfig: BatonConfig = { version: CONFIG_VERSION, providers: {}, defaults: {} };

/** A registered provider: its name plus its stored entry. */
export interface StoredProvider extends ProviderEntry {
  readonly name: string;
}

/** What may be shown about a provider (`provider list --json`): everything but the client secret. */
export interface ProviderSummary {
  readonly name: string;
  readonly issuer: string;
  readonly clientId: string;
  readonly confidential: boolean;
  readonly scope: string | undefined;
  readonly graceWindowSeconds: number;
  readonly deviceOnly: boolean;
  readonly preset: string | undefined;
  readonly rotation: Rotation;
  readonly revokesAccessTokenOnRefresh: boolean;
  readonly authorizationParameters: Readonly<Record<string, string>>;
  readonly username: string;
  readonly endpoints: Readonly<Record<string, string>>;
}

/** The user name paired with access tokens when neither the provider nor a host mapping names one. */
export const DEFAULT_USERNAME = "oauth2";

/** The provider's rotation behaviour; records written before the field existed derive it from the grace window. */
export const rotationOf = (provider: ProviderEntry): Rotation =>
  provider.rotation ?? (provider.graceWindowSeconds > 0 ? "grace" : "strict");

export const summarize = (provider: StoredProvider): ProviderSummary => {
  const endpoints: Record<string, string> = {};
  for (const [key, value] of Object.entries(provider.metadata ?? {})) {
    if (key.endsWith("_endpoint") && typeof value === "string") endpoints[key] = value;
  }
  return {
    name: provider.name,
    issuer: provider.issuer,
    clientId: provider.clientId,
    confidential: provider.clientSecret !== undefined,
    scope: provider.scope,
    graceWindowSeconds: provider.graceWindowSeconds,
    deviceOnly: provider.deviceOnly,
    preset: provider.preset,
    rotation: rotationOf(provider),
    revokesAccessTokenOnRefresh: provider.revokesAccessTokenOnRefresh ?? false,
    authorizationParameters: provider.authorizationParameters ?? {},
    username: provider.username ?? DEFAULT_USERNAME,
    endpoints,
  };
};

export const toProfile = (provider: StoredProvider): ProviderProfile => ({
  name: provider.name,
  issuer: provider.issuer,
  clientId: provider.clientId,
  scope: provider.scope,
  graceWindowSeconds: provider.graceWindowSeconds,
  deviceOnly: provider.deviceOnly,
  introspection: typeof provider.metadata?.introspection_endpoint === "string",
  rotation: rotationOf(provider),
  revokesAccessTokenOnRefresh: provider.revokesAccessTokenOnRefresh ?? false,
});

export const storedProvider = (config: BatonConfig, name: string): StoredProvider | undefined => {
  if (!isValidName(name) || !Object.hasOwn(config.providers, name)) return undefined;
  const entry = config.providers[name];
  return entry === undefined ? undefined : { name, ...entry };
};

// ---------------------------------------------------------------------------------------------------- decoding

/** `providers.github.issuer`; keys that are not identifiers are bracketed: `providers["my.idp"].issuer`. */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path
    .map((key, index) => {
      const text = typeof key === "symbol" ? key.toString() : String(key);
      if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(text)) return index === 0 ? text : `.${text}`;
      return `[${JSON.stringify(text)}]`;
    })
    .join("");

const rephrase = (message: string, path: ReadonlyArray<PropertyKey>): string => {
  if (message === "Missing key") return "is required";
  if (message === "Expected no excess property") {
    if (path.length === 3 && path[0] === "credentialHosts")
      return "is not a valid host name (lower case, optional :PORT)";
    const isRecordKey = path.length === 2 && (path[0] === "providers" || path[0] === "defaults");
    return isRecordKey
      ? 'is not a valid provider name (letters, digits, ".", "_" or "-"; at most 64)'
      : "unknown field";
  }
  return message.length === 0 ? message : message[0]!.toLowerCase() + message.slice(1);
};

const formatter = SchemaIssue.makeFormatterStandardSchemaV1();

/** One line per problem (at most five), without values: `providers.github.issuer: expected a URL`. */
export const describeIssue = (issue: SchemaIssue.Issue): string => {
  const lines: Array<string> = [];
  for (const entry of formatter(issue).issues) {
    const path = (entry.path ?? []).map((segment) =>
      typeof segment === "object" && segment !== null && "key" in segment ? segment.key : segment,
    );
    const where = path.length === 0 ? "(top level)" : formatPath(path);
    const line = `${where}: ${rephrase(entry.message, path)}`;
    if (!lines.includes(line)) lines.push(line);
  }
  const shown = lines.slice(0, 5);
  if (lines.length > shown.length) shown.push(`(${lines.length - shown.length} more)`);
  return shown.join("; ");
};

/** Where a JSON syntax error is, from the position in V8's message; never the snippet it quotes. */
const syntaxErrorLocation = (text: string, error: unknown): string => {
  if (text.trim().length === 0) return "the file is empty";
  const message = error instanceof Error ? error.message : "";
  const match = /position (\d+)/.exec(message);
  if (match === null) return "unexpected end or token";
  const position = Number(match[1]);
  const before = text.slice(0, position);
  const line = before.split("\n").length;
  const column = position - before.lastIndexOf("\n");
  return `at line ${line}, column ${column}`;
};

const decodeUnknown = Schema.decodeUnknownExit(BatonConfig, { errors: "all", onExcessProperty: "error" });

export type DecodeOutcome =
  | { readonly _tag: "ok"; readonly config: BatonConfig }
  | { readonly _tag: "invalid"; readonly problem: string };

/** Decodes the file's text. `problem` is the message without the file name (the caller prefixes it). */
export const decodeConfigText = (text: string): DecodeOutcome => {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { _tag: "invalid", problem: `not valid JSON (${syntaxErrorLocation(text, error)})` };
  }
  if (typeof json === "object" && json !== null && !Array.isArray(json) && "version" in json) {
    const version: unknown = json.version;
    if (typeof version === "number" && version !== CONFIG_VERSION) {
      return {
        _tag: "invalid",
        problem: `version: unsupported version ${version} (this baton reads version ${CONFIG_VERSION}; a newer baton wrote it?)`,
      };
    }
  }
  const exit = decodeUnknown(json);
  if (Exit.isSuccess(exit)) return { _tag: "ok", config: exit.value };
  const error = exit.cause.reasons.find((reason) => reason._tag === "Fail");
  if (error !== undefined && Schema.isSchemaError(error.error)) {
    return { _tag: "invalid", problem: describeIssue(error.error.issue) };
  }
  return { _tag: "invalid", problem: "does not match the configuration schema" };
};

/** The file's text for `config`: stable key order as given, two-space indentation, trailing newline. */
export const encodeConfigText = (config: BatonConfig): string => `${JSON.stringify(config, null, 2)}\n`;
