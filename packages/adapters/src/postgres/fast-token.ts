/**
 * The fast path of `baton token REF` on a PostgreSQL store (SPEC §7): when the stored access token is fresh, printing
 * it needs one connection and one query — the schema version, the sealed registry and the account's sealed secret
 * together — and none of the protocol's machinery, so this module loads nothing but Node, `pg`, the sealing
 * primitives and the core's name rule and timing policy (no Effect). It reads by the same rules as the full path:
 * the schema version this build knows, the registry and the secret sealed with the key given (their key ids) and
 * opening with it (AES-GCM authenticates: a wrong key never opens), bound to their place. Anything else — no or a
 * wrong key, another schema version, an unregistered provider, a token that is not fresh, a record that does not
 * open — answers "not handled" and the full CLI takes over, with its checks and its error messages.
 */

import { Socket } from "node:net";
import { isValidName } from "@baton/core/account-name";
import { freshness } from "@baton/core/policy";
import pg from "pg";
import { SCHEMA_VERSION } from "./migrations.ts";
import { keyFromText, open, REGISTRY_AAD, readKeyFile, type StoreKey, secretAad } from "./sealing.ts";
import { clientConfig } from "./session.ts";

interface Row {
  readonly version: number | null;
  readonly registry_key: string | null;
  readonly registry: Buffer | null;
  readonly account: string | null;
  readonly generation: number | null;
  readonly secret_key: string | null;
  readonly secret: Buffer | null;
}

/** The registry and secrets sealed with the key given, and opening with it, prove the key (no key-check row needed). */
const QUERY =
  "SELECT m.version, r.key_id AS registry_key, r.sealed AS registry, s.account, s.generation, " +
  "s.key_id AS secret_key, s.sealed AS secret FROM (SELECT max(version) AS version FROM baton.migrations) AS m " +
  "LEFT JOIN baton.registry AS r ON true " +
  "LEFT JOIN baton.secrets AS s ON s.provider = $1 AND ($2::text IS NULL OR s.account = $2)";

const keyOfEnvironment = (env: NodeJS.ProcessEnv): StoreKey | undefined => {
  if (env.BATON_STORE_KEY !== undefined && env.BATON_STORE_KEY !== "") {
    return env.BATON_STORE_KEY_FILE === undefined || env.BATON_STORE_KEY_FILE === ""
      ? keyFromText(env.BATON_STORE_KEY)
      : undefined;
  }
  if (env.BATON_STORE_KEY_FILE === undefined || env.BATON_STORE_KEY_FILE === "") return undefined;
  const read = readKeyFile(env.BATON_STORE_KEY_FILE);
  return "text" in read ? keyFromText(read.text) : undefined;
};

/** The account a reference names, if its provider is registered in the sealed registry `sealed`. */
const registeredAccount = (key: StoreKey, sealed: Buffer, provider: string, named: string | undefined) => {
  const text = open(key, REGISTRY_AAD, sealed);
  if (text === undefined) return undefined;
  const config = JSON.parse(text.toString("utf8")) as {
    providers?: Record<string, unknown>;
    defaults?: Record<string, unknown>;
  };
  if (config.providers === undefined || !Object.hasOwn(config.providers, provider)) return undefined;
  const account = named ?? config.defaults?.[provider];
  return typeof account === "string" && isValidName(account) ? account : undefined;
};

/** The fresh access token of `ref` in the store of `env.BATON_STORE`, or `undefined` (the full path takes over). */
export const fastPostgresToken = async (ref: string, env: NodeJS.ProcessEnv): Promise<string | undefined> => {
  const url = env.BATON_STORE;
  if (url === undefined || !/^postgres(ql)?:\/\//.test(url) || env.BATON_DEBUG === "1") return undefined;
  const [provider = "", named, ...rest] = ref.split(":");
  if (rest.length > 0 || !isValidName(provider) || (named !== undefined && !isValidName(named))) return undefined;
  const key = keyOfEnvironment(env);
  if (key === undefined) return undefined;
  const client = new pg.Client(clientConfig(url));
  client.on("error", () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<Row>(QUERY, [provider, named ?? null]);
    const first = rows[0];
    if (first === undefined || first.version !== SCHEMA_VERSION) return undefined;
    if (first.registry === null || first.registry_key !== key.id) return undefined;
    const account = registeredAccount(key, first.registry, provider, named);
    const row = rows.find((candidate) => candidate.account === account);
    if (account === undefined || row?.secret === null || row?.secret_key !== key.id || row.generation === null) {
      return undefined;
    }
    const plain = open(key, secretAad(provider, account, row.generation), row.secret);
    if (plain === undefined) return undefined;
    const { accessToken, expiresAt, obtainedAt, version, generation } = JSON.parse(plain.toString("utf8")) as Record<
      string,
      unknown
    >;
    if (version !== 1 || generation !== row.generation || typeof accessToken !== "string" || accessToken === "") {
      return undefined;
    }
    if (typeof expiresAt !== "number" || typeof obtainedAt !== "number") return undefined;
    return freshness({ expiresAt, obtainedAt }, Date.now()) === "fresh" ? accessToken : undefined;
  } catch {
    return undefined;
  } finally {
    // Says goodbye (Terminate) without waiting for the server to close the socket: the socket no longer keeps the
    // process alive, and the kernel delivers what is queued on it when the process exits.
    client.end().catch(() => undefined);
    const { stream } = client.connection;
    if (stream instanceof Socket) stream.unref();
  }
};
