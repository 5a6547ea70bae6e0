/**
 * Which account answers when git or docker asks for the credentials of a host: the `credentialHosts` map of
 * the provider registry (`<BATON_HOME>/config.json`, or the PostgreSQL store's), `{ git: { HOST: { account, username? } }, docker: { HOST: … } }`, kept with the
 * registry's read → change → atomic replace (provider-registry.ts). An account is `PROVIDER:ACCOUNT`, or a bare
 * `PROVIDER` for whatever its default account is when asked. Hosts are stored the way the tools name them, lower
 * case, with a port when not the default (`github.com`, `registry.example:5000`); docker's server URLs
 * (`https://index.docker.io/v1/`) are reduced to their host first.
 */
import { InvalidInput, NotFound } from "@baton/core";
import { Effect } from "effect";
import { type BatonConfig, type CredentialHosts, type HostEntry, storedProvider } from "./provider-config.ts";
import { type ChangeError, type ConfigError, loadConfig, modify, type RegistryStore } from "./provider-registry.ts";

export type HelperKind = "git" | "docker";

const HOST = /^[a-z0-9]([a-z0-9.-]{0,252})(:[0-9]{1,5})?$/;
const REF = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63})(:[A-Za-z0-9][A-Za-z0-9._-]{0,63})?$/;
const USERNAME = /^[\x21-\x7e]{1,128}$/;

/**
 * A host as stored: lower case, no scheme, path or user info. Accepts what docker sends (`https://ghcr.io`,
 * `https://index.docker.io/v1/`, `ghcr.io`) and what git sends (`host` or `host:port`). `undefined` when it is no host.
 */
export const normalizeHost = (input: string): string | undefined => {
  const text = input.trim();
  const parsed = URL.parse(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`);
  if (parsed === null || parsed.username !== "" || parsed.password !== "") return undefined;
  const host = parsed.host.toLowerCase();
  return HOST.test(host) ? host : undefined;
};

const argument = (message: string) => new InvalidInput({ reason: "argument", message });

const entriesOf = (config: BatonConfig, kind: HelperKind): Readonly<Record<string, HostEntry>> =>
  config.credentialHosts?.[kind] ?? {};

/** Maps `host` to `entry.account` for `kind`; the provider must be registered. Replaces an existing mapping. */
export const setCredentialHost = (
  kind: HelperKind,
  hostInput: string,
  entry: HostEntry,
): Effect.Effect<string, ChangeError | NotFound, RegistryStore> =>
  Effect.gen(function* () {
    const host = normalizeHost(hostInput);
    if (host === undefined) return yield* argument(`"${hostInput}" is not a host name (e.g. github.com or ghcr.io)`);
    const ref = REF.exec(entry.account);
    if (ref === null) return yield* argument(`"${entry.account}" is not PROVIDER or PROVIDER:ACCOUNT`);
    if (entry.username !== undefined && !USERNAME.test(entry.username)) {
      return yield* argument("--username: expected 1-128 visible ASCII characters");
    }
    const provider = ref[1] ?? "";
    yield* modify((config): Effect.Effect<BatonConfig, NotFound> => {
      if (storedProvider(config, provider) === undefined) {
        return Effect.fail(
          new NotFound({ what: "provider", name: provider, message: `no provider named "${provider}"; add it first` }),
        );
      }
      const hosts: CredentialHosts = {
        ...config.credentialHosts,
        [kind]: { ...entriesOf(config, kind), [host]: entry },
      };
      return Effect.succeed({ ...config, credentialHosts: hosts });
    });
    return host;
  });

/** Removes the mapping of `host` for `kind`; `NotFound` when there is none. */
export const removeCredentialHost = (
  kind: HelperKind,
  hostInput: string,
): Effect.Effect<void, ChangeError | NotFound, RegistryStore> =>
  Effect.asVoid(
    modify((config): Effect.Effect<BatonConfig, NotFound> => {
      const host = normalizeHost(hostInput) ?? hostInput;
      const current = entriesOf(config, kind);
      if (!Object.hasOwn(current, host)) {
        return Effect.fail(
          new NotFound({ what: "account", name: host, message: `no ${kind} host "${host}" is mapped to an account` }),
        );
      }
      const rest = Object.fromEntries(Object.entries(current).filter(([key]) => key !== host));
      return Effect.succeed({ ...config, credentialHosts: { ...config.credentialHosts, [kind]: rest } });
    }),
  );

/** Every mapping of `kind`, sorted by host. */
export const listCredentialHosts = (
  kind: HelperKind,
): Effect.Effect<ReadonlyArray<HostEntry & { readonly host: string }>, ConfigError, RegistryStore> =>
  Effect.map(loadConfig(), (config) =>
    Object.entries(entriesOf(config, kind))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([host, entry]) => ({ host, ...entry })),
  );

/** The mapping for `hostInput`, if any (the host is normalized first). */
export const lookupCredentialHost = (
  kind: HelperKind,
  hostInput: string,
): Effect.Effect<(HostEntry & { readonly host: string }) | undefined, ConfigError, RegistryStore> =>
  Effect.map(loadConfig(), (config) => {
    const host = normalizeHost(hostInput);
    if (host === undefined) return undefined;
    const entries = entriesOf(config, kind);
    return Object.hasOwn(entries, host) ? { host, ...(entries[host] as HostEntry) } : undefined;
  });
