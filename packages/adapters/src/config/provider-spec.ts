/**
 * What `baton provider add` was asked for, turned into a registry input: a preset's record (provider-presets.ts)
 * overlaid with the flags, explicit endpoints instead of discovery, extra authorization parameters, and the provider's
 * rotation behaviour made consistent with its grace window. Pure: every problem is an `InvalidInput` naming the flag.
 *
 *   --preset P [--tenant T | --domain D]   endpoints, issuer and behaviour from the preset; no discovery
 *   --token-endpoint URL [--issuer URL]    explicit endpoints, no discovery (issuer defaults to the endpoint's origin)
 *   --issuer URL                           discovery (RFC 8414, then OpenID Connect)
 */
import { InvalidInput } from "@baton/core";
import {
  isAcceptableEndpoint,
  type ProviderMetadata,
  RESERVED_AUTHORIZATION_PARAMETERS,
  type Rotation,
} from "./provider-config.ts";
import { expandPreset, isPresetName, PRESET_NAMES, type PresetRecord } from "./provider-presets.ts";
import type { DiscoveredProvider, ProviderInput } from "./provider-registry.ts";

/** The endpoint flags, by the RFC 8414 metadata name each one sets. */
export const ENDPOINT_FLAGS = {
  token_endpoint: "--token-endpoint",
  authorization_endpoint: "--authorization-endpoint",
  device_authorization_endpoint: "--device-endpoint",
  revocation_endpoint: "--revocation-endpoint",
  introspection_endpoint: "--introspection-endpoint",
} as const;
export type EndpointName = keyof typeof ENDPOINT_FLAGS;

export interface ProviderFlags {
  readonly name: string;
  readonly clientId: string;
  readonly clientSecret: string | undefined;
  readonly issuer: string | undefined;
  readonly scope: string | undefined;
  readonly graceWindowSeconds: number | undefined;
  readonly deviceOnly: boolean;
  readonly preset: string | undefined;
  readonly tenant: string | undefined;
  readonly domain: string | undefined;
  readonly endpoints: Partial<Record<EndpointName, string>>;
  /** `K=V` pairs, as typed. */
  readonly authParams: ReadonlyArray<string>;
  readonly rotation: string | undefined;
  readonly revokesAccessToken: boolean;
  readonly username: string | undefined;
}

export interface ProviderSpec {
  readonly input: ProviderInput;
  /** The endpoints to store without discovery; `undefined`: discover them from the issuer. */
  readonly explicit: DiscoveredProvider | undefined;
  /** The preset's note for the user. */
  readonly note: string | undefined;
}

const invalid = (message: string) => new InvalidInput({ reason: "argument", message });

const ROTATIONS: ReadonlyArray<Rotation> = ["strict", "grace", "none"];

/** `K=V` pairs as a record; a problem names the pair. */
export const parseAuthParams = (pairs: ReadonlyArray<string>): Record<string, string> | InvalidInput => {
  const parameters: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    const key = at < 0 ? pair : pair.slice(0, at);
    if (at <= 0 || !/^[A-Za-z0-9_.-]{1,64}$/.test(key)) {
      return invalid(`--auth-param: expected KEY=VALUE with a parameter name, not "${pair}"`);
    }
    if (RESERVED_AUTHORIZATION_PARAMETERS.has(key)) {
      return invalid(`--auth-param: ${key} is set by baton itself`);
    }
    if (Object.hasOwn(parameters, key)) return invalid(`--auth-param: ${key} is given twice`);
    parameters[key] = pair.slice(at + 1);
  }
  return parameters;
};

const checkEndpoints = (endpoints: Partial<Record<EndpointName, string>>): InvalidInput | undefined => {
  for (const [name, url] of Object.entries(endpoints) as Array<[EndpointName, string]>) {
    const flag = ENDPOINT_FLAGS[name];
    if (URL.parse(url) === null) return invalid(`${flag}: "${url}" is not a URL`);
    if (!isAcceptableEndpoint(url)) {
      return invalid(`${flag}: expected an https URL (plain http only on 127.0.0.1, localhost or [::1])`);
    }
  }
  return undefined;
};

const presetOf = (flags: ProviderFlags): PresetRecord | InvalidInput | undefined => {
  if (flags.preset === undefined) {
    if (flags.tenant !== undefined) return invalid("--tenant: only with --preset");
    if (flags.domain !== undefined) return invalid("--domain: only with --preset");
    return undefined;
  }
  if (!isPresetName(flags.preset)) {
    return invalid(`--preset: "${flags.preset}" is not one of ${PRESET_NAMES.join(", ")}`);
  }
  if (flags.issuer !== undefined) return invalid("--issuer: a preset sets the issuer; use --domain or --tenant");
  const record = expandPreset(flags.preset, { tenant: flags.tenant, domain: flags.domain });
  return "problem" in record ? invalid(record.problem) : record;
};

/** The rotation behaviour and grace window, consistent with each other. */
const behaviourOf = (
  flags: ProviderFlags,
  preset: PresetRecord | undefined,
): { readonly rotation: Rotation; readonly graceWindowSeconds: number } | InvalidInput => {
  if (flags.rotation !== undefined && !(ROTATIONS as ReadonlyArray<string>).includes(flags.rotation)) {
    return invalid(`--rotation: expected one of ${ROTATIONS.join(", ")}, not "${flags.rotation}"`);
  }
  const asked = flags.rotation as Rotation | undefined;
  const grace = flags.graceWindowSeconds;
  if (asked === "grace") {
    const seconds = grace ?? preset?.graceWindowSeconds ?? 0;
    if (seconds <= 0) return invalid("--rotation grace: give the window with --grace-window SECONDS");
    return { rotation: "grace", graceWindowSeconds: seconds };
  }
  if (asked !== undefined) {
    if (grace !== undefined && grace > 0) return invalid(`--grace-window: applies to --rotation grace, not ${asked}`);
    return { rotation: asked, graceWindowSeconds: 0 };
  }
  if (grace !== undefined)
    return {
      rotation: grace > 0 ? "grace" : preset?.rotation === "none" ? "none" : "strict",
      graceWindowSeconds: grace,
    };
  return { rotation: preset?.rotation ?? "strict", graceWindowSeconds: preset?.graceWindowSeconds ?? 0 };
};

/** Builds the registry input from the flags (no I/O). */
export const resolveProviderSpec = (flags: ProviderFlags): ProviderSpec | InvalidInput => {
  const preset = presetOf(flags);
  if (preset instanceof InvalidInput) return preset;
  const badEndpoint = checkEndpoints(flags.endpoints);
  if (badEndpoint !== undefined) return badEndpoint;
  const authorizationParameters = parseAuthParams(flags.authParams);
  if (authorizationParameters instanceof InvalidInput) return authorizationParameters;
  const behaviour = behaviourOf(flags, preset);
  if (behaviour instanceof InvalidInput) return behaviour;
  if (preset?.needsClientSecret === true && flags.clientSecret === undefined) {
    return invalid(`--client-secret-stdin: the ${flags.preset} preset needs the client secret (pipe it into stdin)`);
  }

  const explicitGiven = Object.keys(flags.endpoints).length > 0;
  let explicit: DiscoveredProvider | undefined;
  let issuer: string;
  if (preset !== undefined) {
    issuer = preset.issuer;
    explicit = { issuer, metadata: { ...preset.metadata, ...flags.endpoints } as ProviderMetadata };
  } else if (explicitGiven) {
    const tokenEndpoint = flags.endpoints.token_endpoint;
    if (tokenEndpoint === undefined) return invalid("--token-endpoint: required with explicit endpoints");
    issuer = flags.issuer ?? new URL(tokenEndpoint).origin;
    explicit = { issuer, metadata: { ...flags.endpoints, token_endpoint: tokenEndpoint } };
  } else {
    if (flags.issuer === undefined) return invalid("--issuer: required (or --preset, or --token-endpoint)");
    issuer = flags.issuer;
  }
  const parameters = { ...(preset?.authorizationParameters ?? {}), ...authorizationParameters };
  const scope = flags.scope ?? preset?.scope;
  const username = flags.username ?? preset?.username;
  const input: ProviderInput = {
    name: flags.name,
    issuer,
    clientId: flags.clientId,
    ...(flags.clientSecret === undefined ? {} : { clientSecret: flags.clientSecret }),
    ...(scope === undefined ? {} : { scope }),
    graceWindowSeconds: behaviour.graceWindowSeconds,
    deviceOnly: flags.deviceOnly,
    ...(flags.preset === undefined ? {} : { preset: flags.preset }),
    rotation: behaviour.rotation,
    revokesAccessTokenOnRefresh: flags.revokesAccessToken || (preset?.revokesAccessTokenOnRefresh ?? false),
    ...(Object.keys(parameters).length === 0 ? {} : { authorizationParameters: parameters }),
    ...(username === undefined ? {} : { username }),
  };
  return { input, explicit, note: preset?.note };
};
