/**
 * `baton doctor [--json]`: read-only checks of BATON_HOME, each reported as an ok / warn / fail line:
 *
 * - home and permissions: BATON_HOME and every directory below it writable by this user (a read-only home fails:
 *   no refreshed token could be stored), directories 0700, files 0600, no symbolic links below BATON_HOME, no
 *   leftovers of interrupted writes or lock recoveries (a loose secret record or any symlink fails; other loose modes
 *   warn — baton repairs them on the next access);
 * - config.json parses, and a config.lock left by a dead process; the storage kind in use; each provider's issuer is
 *   reachable, with the clock skew from its HTTP `Date` header (core's `clockSkew`; warn beyond 30 s — baton never
 *   trusts clocks for safety, but expiry does); each default account exists and holds credentials;
 * - per account: its state and storage (the secret store has the last word, as in `status`), its provider is still
 *   registered, the secret record decodes (read without moving anything) and is there when the history says it
 *   should be (else it was quarantined or deleted), the event log exists for a secret and is healthy (torn tail,
 *   corrupt records, records of a newer baton, past repairs), a lock left by a dead process, in-doubt claims
 *   (recorded, or pending for the next process), a revoked state; then quarantine/ contents and orphaned sessions.
 *
 * With a PostgreSQL store shared by many machines (BATON_STORE) the home and file checks give way to the store's:
 * the server is reachable (exit 4 when not), its schema version is one this baton knows, the key given is the store's
 * (exit 2 otherwise), records moved to its quarantine, and stuck claims — presented by a claimant the database no
 * longer sees (in doubt) or held for more than a minute — judged by the database, not by host names.
 *
 * A store that cannot be read is a failing `store` line for what it concerns, never the end of the report: with
 * `--json` the output is always the JSON document. Exit codes: 0 no failure (warnings allowed); 2 a file in
 * BATON_HOME needs fixing (read-only home, malformed config, corrupt, missing or unreadable record, symlink, loose
 * secret); 4 only retryable failures (an issuer unreachable or answering 5xx, a keychain unavailable, a full disk).
 * docs/cli.md has the JSON.
 */
import { constants, type Stats } from "node:fs";
import { access, lstat, readdir, readFile, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import {
  ConfigLock,
  FileEventStore,
  FileLock,
  NodeBaton,
  NodeHostIdentity,
  OAuthHttp,
  PostgresAdministration,
  type PostgresStore,
  ProviderRegistry,
} from "@baton/adapters";
import {
  type AccountRef,
  accountKey,
  allAccounts,
  ClaimStore,
  Credentials,
  clockSkew,
  EventStore,
  HOLDS_CREDENTIALS,
  HostIdentity,
  judgeClaims,
  RefreshSettings,
  replay,
  SecretStore,
  Sessions,
  stateName,
} from "@baton/core";
import { Clock, Effect, Exit, Schema } from "effect";
import { Command } from "effect/cli";
import { CliEnvironment } from "../composition.ts";
import { absoluteTime, paint } from "../format.ts";
import { jsonFlag } from "../json-flag.ts";

export type Level = "ok" | "warn" | "fail";

/** One line of the report; `check` is one of the names in docs/cli.md (home, permissions, config, issuer, …). */
export interface Check {
  readonly check: string;
  /** The provider, account or path concerned, if any. */
  readonly subject: string | null;
  readonly status: Level;
  readonly message: string;
  /** For failures: the exit code it calls for (2: fix a file, 4: retry later). */
  readonly code?: 2 | 4;
}

const line =
  (status: Level) =>
  (check: string, subject: string | null, message: string, code?: 2 | 4): Check => ({
    check,
    subject,
    status,
    message,
    ...(status === "fail" ? { code: code ?? 2 } : {}),
  });
const ok = line("ok");
const warn = line("warn");
const fail = line("fail");

const SKEW_WARN_MS = 30_000;
const WEEK_MS = 7 * 24 * 60 * 60 * 1000;
const readNoFollow = (path: string) => readFile(path, { flag: constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) });
const lstatOrUndefined = (path: string) => lstat(path).catch((): Stats | undefined => undefined);
const mode = (s: Stats) => (s.mode & 0o777).toString(8);
const LEFTOVER = /^\..+\.tmp-|^refresh\.lock\.(dead|recovering)-|^config\.lock\.recovering-/;

/** Why this process cannot write `dir` (an error code), or `undefined` when it can. */
const unwritable = (dir: string): Promise<string | undefined> =>
  access(dir, constants.W_OK).then(
    () => undefined,
    (error: unknown) =>
      typeof error === "object" && error !== null && "code" in error ? String(error.code) : "not writable",
  );

/** Walks BATON_HOME without following links. */
const checkTree = async (home: string): Promise<ReadonlyArray<Check>> => {
  const top = await stat(home).catch(() => undefined);
  if (top === undefined) return [ok("home", home, "does not exist yet (the first login creates it)")];
  if (!top.isDirectory()) return [fail("home", home, "is not a directory")];
  const checks: Array<Check> = [];
  if ((top.mode & 0o077) !== 0) checks.push(warn("home", home, `has mode ${mode(top)}; expected 700 (chmod 700 it)`));
  const counts = { dirs: 1, files: 0 };
  /** Walks `dir`; `reported` once an unwritable directory above it was reported (its children are not repeated). */
  const walk = async (dir: string, reported: boolean): Promise<void> => {
    const names = await readdir(dir).catch(() => undefined);
    if (names === undefined) {
      checks.push(fail("permissions", relative(home, dir) || home, "cannot be read by this user"));
      return;
    }
    const cannotWrite = reported ? undefined : await unwritable(dir);
    if (cannotWrite !== undefined) {
      const text = `is not writable by this user (${cannotWrite}): baton could not store refreshed tokens, events or claims here; make it writable`;
      checks.push(fail(dir === home ? "home" : "permissions", relative(home, dir) || home, text));
    }
    const below = reported || cannotWrite !== undefined;
    for (const name of names.sort()) {
      const path = join(dir, name);
      const where = relative(home, path);
      const info = await lstatOrUndefined(path);
      if (info === undefined) continue;
      if (info.isSymbolicLink()) {
        checks.push(fail("permissions", where, "is a symbolic link; baton refuses to follow it: remove it"));
        continue;
      }
      if (LEFTOVER.test(name)) {
        checks.push(
          warn("leftovers", where, "is left over from an interrupted write or lock recovery; safe to delete"),
        );
      }
      if (info.isDirectory()) {
        counts.dirs += 1;
        if ((info.mode & 0o077) !== 0) checks.push(warn("permissions", where, `has mode ${mode(info)}; expected 700`));
        await walk(path, below);
        continue;
      }
      counts.files += 1;
      if ((info.mode & 0o077) === 0) continue;
      const text = `has mode ${mode(info)}; expected 600`;
      checks.push(
        name === "secret.json"
          ? fail("permissions", where, `${text}: others could read the credentials`)
          : warn("permissions", where, `${text} (baton repairs it on the next access)`),
      );
    }
  };
  await walk(home, false);
  if (!checks.some((c) => c.check === "permissions" || c.check === "home")) {
    const text = `${counts.dirs} directories 0700, ${counts.files} files 0600, no symbolic links`;
    checks.unshift(ok("permissions", home, text));
  }
  return checks;
};

/** Any HTTP answer from the issuer's discovery URL means reachable; its `Date` header gives the clock skew. */
const probeIssuer = async (name: string, issuer: string): Promise<Check> => {
  const url = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
  const sentAt = Date.now();
  try {
    const response = await OAuthHttp.makeFetch({ timeoutMs: 5_000 })(url, { method: "GET" });
    const receivedAt = Date.now();
    const took = `HTTP ${response.status} in ${receivedAt - sentAt} ms`;
    if (response.status >= 500) return fail("issuer", name, `${issuer} answers ${took}; try again later`, 4);
    const date = Date.parse(response.headers.get("date") ?? "");
    if (Number.isNaN(date)) return warn("issuer", name, `${issuer} is reachable (${took}) but sends no Date header`);
    const skew = clockSkew(date, sentAt, receivedAt);
    const text = `${issuer} is reachable (${took}); clock skew ${skew >= 0 ? "+" : ""}${(skew / 1000).toFixed(1)} s`;
    return Math.abs(skew) > SKEW_WARN_MS
      ? warn("issuer", name, `${text}: this clock is off by more than 30 s, so expiry is misjudged (sync it with NTP)`)
      : ok("issuer", name, text);
  } catch (error) {
    return fail("issuer", name, `${issuer} is unreachable (${error instanceof Error ? error.message : "error"})`, 4);
  }
};

const decodeCredentials = Schema.decodeUnknownExit(Credentials);

/** The event log's health, read without changing it. */
const scanLog = async (path: string) => {
  const bytes = await readNoFollow(path).catch(() => undefined);
  if (bytes === undefined) return undefined;
  const lines = bytes.toString("utf8").split("\n");
  const tail = lines.pop() ?? "";
  const verdicts = lines.map((text) => FileEventStore.judgeLine(Buffer.from(text, "utf8")));
  const bad = verdicts.filter((verdict) => verdict.kind === "invalid").length;
  const future = verdicts.flatMap((verdict) => (verdict.kind === "future" ? [verdict.version] : []));
  const lastLineBad = tail === "" && verdicts.at(-1)?.kind === "invalid";
  const repairs = verdicts.filter((v) => v.kind === "event" && v.event.type === "log.repaired").length;
  return {
    torn: tail !== "" || lastLineBad,
    corrupt: bad - (lastLineBad ? 1 : 0),
    future: future.length,
    newest: Math.max(0, ...future),
    repairs,
  };
};

/** The file in quarantine/ that a corrupt secret record of `account` was moved to, if any. */
const quarantinedSecret = async (home: string, account: AccountRef): Promise<string | undefined> => {
  const names = await readdir(join(home, "quarantine")).catch((): Array<string> => []);
  const marker = `-${account.provider}-${account.account}-secret.json-`;
  return names
    .filter((name) => name.includes(marker))
    .sort()
    .at(-1);
};

const readCredentials = async (path: string): Promise<Credentials | "absent" | "corrupt"> => {
  const bytes = await readNoFollow(path).catch(() => undefined);
  if (bytes === undefined) return "absent";
  try {
    const decoded = decodeCredentials(JSON.parse(bytes.toString("utf8")));
    return Exit.isSuccess(decoded) ? decoded.value : "corrupt";
  } catch {
    return "corrupt";
  }
};

/** Claim records of generations a rotation superseded beyond this many are pointed out (each rotation prunes them). */
const SUPERSEDED_CLAIMS_WARN = 16;

/** How many claim records of `claims/` belong to generations below `generation - 1` (kept: the last two). */
const countSupersededClaims = async (dir: string, generation: number): Promise<number> => {
  const names = await readdir(dir).catch((): Array<string> => []);
  return names.filter((name) => {
    const match = /^g(\d+)-a\d+\.claim$/.exec(name);
    return match !== null && Number(match[1]) < generation - 1;
  }).length;
};

/**
 * The checks of one account; `providers` is the set of registered providers (`undefined` when config.json could not
 * be read). Also says whether the account holds credentials (for the defaults check).
 */
const checkAccount = (
  home: string,
  account: AccountRef,
  providers: ReadonlySet<string> | undefined,
  /** The shared store judges claims itself (its own check); on a home they are judged here. */
  claimsHere: boolean,
) =>
  Effect.gen(function* () {
    const key = accountKey(account);
    const dir = join(home, "accounts", account.provider, account.account);
    const now = yield* Clock.currentTimeMillis;
    const checks: Array<Check> = [];
    const secret = yield* Effect.promise(() => readCredentials(join(dir, "secret.json")));
    if (secret === "corrupt") {
      checks.push(
        fail("secret", key, "the secret record does not decode; its next use moves it to quarantine/: log in again"),
      );
    }
    if (providers !== undefined && !providers.has(account.provider)) {
      const text =
        `provider ${account.provider} is not registered, so this account cannot be refreshed or logged out; ` +
        `register it again (\`baton rebuild\`, or \`baton provider add ${account.provider} …\`)`;
      checks.push(warn("provider", key, text));
    }
    const log = yield* Effect.promise(() => scanLog(join(dir, "events.log")));
    if (log?.torn === true)
      checks.push(warn("events", key, "events.log has a torn last record; the next write truncates it"));
    if (log !== undefined && log.corrupt > 0) {
      const text = `events.log has ${log.corrupt} corrupt record(s); the next write copies it to quarantine/ and repairs it`;
      checks.push(warn("events", key, text));
    }
    if (log !== undefined && log.future > 0) {
      const text =
        `events.log has ${log.future} record(s) written by a newer baton (event schema version ${log.newest}); ` +
        "this build skips them, and its next write copies the log to quarantine/ and leaves them out";
      checks.push(warn("events", key, text));
    }
    const lockDir = join(dir, FileLock.LOCK_DIR);
    const lockStats = yield* Effect.promise(() => lstatOrUndefined(lockDir));
    if (lockStats !== undefined) {
      const owner = FileLock.readOwnerSync(lockDir);
      const liveness = owner === undefined ? "unknown" : yield* (yield* HostIdentity).isAlive(owner.host, owner.pid);
      const who = owner === undefined ? "an unknown process" : `pid ${owner.pid} on ${owner.host}`;
      if (liveness === "dead") {
        checks.push(
          warn("lock", key, `refresh.lock is held by ${who}, which is gone; the next process recovers it at once`),
        );
      } else if (liveness === "unknown" && now - lockStats.mtimeMs > FileLock.LOCK_OPTIONS.staleMs) {
        const since = absoluteTime(lockStats.mtimeMs);
        checks.push(
          warn("lock", key, `refresh.lock of ${who} is not renewed since ${since}; the next process takes it over`),
        );
      }
    }
    // Folded here rather than through the secret store: reading a corrupt record there would move it to quarantine.
    const events = yield* (yield* EventStore).read(account);
    const snapshot = replay(events, { now });
    const store = yield* SecretStore;
    const stored = store.kind === "file" ? secret : ((yield* store.read(account)) ?? "absent");
    const missing = stored === "absent" && HOLDS_CREDENTIALS.has(stateName(snapshot));
    const state = missing ? "unauthenticated" : stateName(snapshot);
    if (missing) {
      const moved = yield* Effect.promise(() => quarantinedSecret(home, account));
      const where = moved === undefined ? "it was deleted" : `it was moved to quarantine/${moved} as corrupt`;
      const text =
        `the history stored generation ${snapshot.context.generation}, but the secret store holds no credentials ` +
        `(${where}); log in again: \`baton login ${key}\``;
      checks.push(fail("secret", key, text));
    }
    if (typeof stored === "object" && events.length === 0) {
      const text =
        "credentials with no history (no events.log): they work, and the history starts with the next change";
      checks.push(warn("events", key, text));
    }
    const generation = Math.max(typeof stored === "object" ? stored.generation : 0, snapshot.context.generation);
    const doubt = snapshot.context.inDoubt;
    if (doubt !== undefined) {
      const text = `generation ${doubt.generation} is in doubt: sent by pid ${doubt.pid} on ${doubt.host} at ${absoluteTime(doubt.at)}, never answered`;
      checks.push(warn("in-doubt", key, text));
    } else if (typeof stored === "object" && claimsHere) {
      const claims = yield* (yield* ClaimStore).list(account, stored.generation);
      const host = yield* HostIdentity;
      const judged = yield* Effect.forEach(claims, (record) =>
        Effect.map(
          record.claimant.host === host.host
            ? host.isAlive(record.claimant.host, record.claimant.pid)
            : Effect.succeed("unknown" as const),
          (liveness) => ({ record, liveness }),
        ),
      );
      const decision = judgeClaims(judged, now, (yield* RefreshSettings).remoteInFlightMs);
      if (decision.kind === "in-doubt") {
        const c = decision.claim.claimant;
        const text = `generation ${stored.generation} was sent by pid ${c.pid} on ${c.host}, which died before storing the answer; the next token request settles it`;
        checks.push(warn("in-doubt", key, text));
      }
      for (const { record } of judged) {
        const c = record.claimant;
        if (record.released !== undefined || c.host !== host.host || !NodeHostIdentity.isZombie(c.pid)) continue;
        checks.push(
          warn(
            "claimant",
            key,
            `the claim on generation ${record.generation} (attempt ${record.attempt}) was made by pid ${c.pid}, now a ` +
              "zombie (it exited and its parent has not reaped it); baton counts it as gone",
          ),
        );
      }
    }
    const superseded = yield* Effect.promise(() => countSupersededClaims(join(dir, "claims"), generation));
    if (superseded > SUPERSEDED_CLAIMS_WARN) {
      checks.push(
        warn(
          "claims",
          key,
          `claims/ holds ${superseded} records of generations before ${generation - 1}; the next rotation prunes them`,
        ),
      );
    }
    if (state === "revoked") checks.push(warn("revoked", key, `log in again: \`baton login ${key}\``));
    const storage = typeof stored === "object" ? store.kind : stored === "absent" ? "none" : "unreadable";
    const repairs = log !== undefined && log.repairs > 0 ? ` (${log.repairs} past repair(s))` : "";
    const summary = `${state}, generation ${generation}, storage ${storage}, ${events.length} events${repairs}`;
    return { checks: [ok("account", key, summary), ...checks], holdsCredentials: typeof stored === "object" };
  });

/**
 * A store that could not be read, as a failing line: code 4 when trying again may help (a full disk, a keychain not
 * available now), else 2 (a file to fix).
 */
const unreadable = (subject: string | null, error: { readonly message: string; readonly reason?: string }): Check => {
  const retryable = error.reason === "no-space" || error.reason === "unavailable";
  return fail("store", subject, `could not be read: ${error.message}`, retryable ? 4 : 2);
};

/** Each default account exists and holds credentials. */
const checkDefaults = (
  defaults: Readonly<Record<string, string>>,
  known: ReadonlyMap<string, boolean>,
): ReadonlyArray<Check> =>
  Object.entries(defaults).flatMap(([provider, account]) => {
    const key = `${provider}:${account}`;
    const holds = known.get(key);
    if (holds === true) return [];
    const why = holds === undefined ? "which does not exist (no credentials, no history)" : "which has no credentials";
    const text = `the default account is ${key}, ${why}: a bare \`${provider}\` fails; \`baton login ${key}\` or \`baton use\` another`;
    return [warn("defaults", provider, text)];
  });

/** A config.lock left by a process that is gone (the next change removes it; until then it is a leftover). */
const checkConfigLock = (home: string): ReadonlyArray<Check> => {
  const owner = ConfigLock.readConfigLockOwner(home);
  if (typeof owner !== "object" || !ConfigLock.isDeadOwner(owner)) return [];
  const text = `config.lock is held by pid ${owner.pid} on ${owner.host}, which is gone; the next change of config.json removes it`;
  return [warn("lock", ConfigLock.CONFIG_LOCK_FILE, text)];
};

/** The shared store's own checks; `usable` when its ports can be used (the per-account checks then run). */
const checkSharedStore = (store: PostgresStore.PostgresStoreShape) =>
  Effect.gen(function* () {
    const outcome = yield* Effect.result(PostgresAdministration.report(store));
    if (outcome._tag === "Failure") {
      const error = outcome.failure;
      return { checks: [fail("store", store.where, error.message, error._tag === "Retryable" ? 4 : 2)], usable: false };
    }
    const report = outcome.success;
    const checks: Array<Check> = [
      ok(
        "store",
        report.server,
        `PostgreSQL ${report.serverVersion} is reachable; ${report.connections} baton connection(s)`,
      ),
    ];
    const newer = report.schemaVersion > report.knownSchemaVersion;
    checks.push(
      newer
        ? fail(
            "schema",
            report.server,
            `schema version ${report.schemaVersion} is newer than this baton knows (${report.knownSchemaVersion}): upgrade baton`,
          )
        : report.schemaVersion < report.knownSchemaVersion
          ? warn(
              "schema",
              report.server,
              report.schemaVersion === 0
                ? "no baton schema yet: `baton store init` (or the first use) creates it"
                : `schema version ${report.schemaVersion}; the first use migrates it to ${report.knownSchemaVersion} (or \`baton store init\`)`,
            )
          : ok("schema", report.server, `schema version ${report.schemaVersion}`),
    );
    const keys = {
      ok: () => ok("key", report.keyId, "the store key given is the store's"),
      unset: () => warn("key", report.keyId, "the store has no key check yet; the first use records this key"),
      missing: () => fail("key", null, "no store key: set BATON_STORE_KEY or BATON_STORE_KEY_FILE"),
      wrong: () =>
        fail(
          "key",
          report.keyId,
          `the store key given is not the store's (its records are sealed with ${report.storeKeyId})`,
        ),
    };
    checks.push(keys[report.key]());
    for (const claim of report.stuckClaims) {
      const who = `pid ${claim.pid} on ${claim.host}`;
      checks.push(
        claim.kind === "in-doubt"
          ? warn(
              "in-doubt",
              claim.account,
              `generation ${claim.generation} was sent by ${who}, which the database no longer sees, before the answer was stored; the next token request settles it`,
            )
          : warn(
              "claim",
              claim.account,
              `generation ${claim.generation} has been claimed by ${who} for ${claim.ageSeconds} s; that process is alive (a stalled process holds it)`,
            ),
      );
    }
    if (report.quarantined > 0) {
      checks.push(
        warn(
          "quarantine",
          "baton.quarantine",
          `${report.quarantined} record(s) moved aside as unreadable: inspect, then delete`,
        ),
      );
    }
    return { checks, usable: !newer && (report.key === "ok" || report.key === "unset") };
  });

const exitCodeFor = (checks: ReadonlyArray<Check>): number =>
  checks.some((c) => c.status === "fail" && c.code === 2) ? 2 : checks.some((c) => c.status === "fail") ? 4 : 0;

export const runDoctor = (options: { readonly json: boolean }) =>
  Effect.gen(function* () {
    const env = yield* CliEnvironment;
    const { backend } = yield* NodeBaton.StoreBackend;
    const shared = backend.kind === "postgres" ? yield* checkSharedStore(backend.store) : undefined;
    const checks: Array<Check> =
      shared === undefined
        ? [...(yield* Effect.promise(() => checkTree(env.home))), ...checkConfigLock(env.home)]
        : [...shared.checks];
    if (shared !== undefined && !shared.usable) return yield* report(checks, options, env.home, env.color);
    const registry = shared === undefined ? "config.json" : "registry";
    const config = yield* ProviderRegistry.loadConfig().pipe(Effect.result);
    if (config._tag === "Failure") {
      checks.push(fail("config", registry, config.failure.message));
    } else {
      const { providers, defaults } = config.success;
      const names = Object.keys(providers);
      const text = `${names.length} provider(s), ${Object.keys(defaults).length} default account(s)`;
      checks.push(ok("config", registry, text));
      const kind = (yield* SecretStore).kind;
      checks.push(
        shared !== undefined
          ? ok("storage", null, "secrets are sealed in the shared PostgreSQL store (AES-256-GCM under the store key)")
          : env.storage === "keychain" && kind !== "keychain"
            ? warn("storage", null, `BATON_STORAGE=keychain, but this build stores secrets as ${kind}`)
            : ok(
                "storage",
                null,
                `secrets are stored as: ${kind}${kind === "file" ? " (0600 files in BATON_HOME)" : ""}`,
              ),
      );
      const probes = names.map((name) => probeIssuer(name, providers[name]?.issuer ?? ""));
      checks.push(...(yield* Effect.promise(() => Promise.all(probes))));
    }
    const providers = config._tag === "Success" ? new Set(Object.keys(config.success.providers)) : undefined;
    const listed = yield* allAccounts.pipe(Effect.result);
    if (listed._tag === "Failure") checks.push(unreadable(null, listed.failure));
    const accounts = listed._tag === "Success" ? listed.success : [];
    const known = new Map<string, boolean>();
    for (const account of accounts) {
      const key = accountKey(account);
      const outcome = yield* checkAccount(env.home, account, providers, shared === undefined).pipe(
        Effect.catch((error) => Effect.succeed({ checks: [unreadable(key, error)], holdsCredentials: false })),
      );
      checks.push(...outcome.checks);
      known.set(key, outcome.holdsCredentials);
    }
    if (config._tag === "Success") checks.push(...checkDefaults(config.success.defaults, known));
    if (shared === undefined) {
      const quarantined = yield* Effect.promise(() => readdir(join(env.home, "quarantine")).catch(() => []));
      const shown = `${quarantined.slice(0, 3).join(", ")}${quarantined.length > 3 ? ", …" : ""}`;
      checks.push(
        quarantined.length === 0
          ? ok("quarantine", "quarantine/", "empty")
          : warn(
              "quarantine",
              "quarantine/",
              `${quarantined.length} file(s) moved aside as corrupt (${shown}); nothing reads them: inspect, then delete`,
            ),
      );
    }
    const orphans = yield* (yield* Sessions).stale(WEEK_MS).pipe(Effect.result);
    checks.push(
      orphans._tag === "Failure"
        ? unreadable("sessions/", orphans.failure)
        : orphans.success.length === 0
          ? ok("sessions", null, "no orphaned sessions")
          : warn("sessions", null, `${orphans.success.length} orphaned session(s); \`baton clean --yes\` removes them`),
    );
    return yield* report(checks, options, env.home, env.color);
  });

/** Prints the report (text or JSON) and sets the exit code. */
const report = (checks: ReadonlyArray<Check>, options: { readonly json: boolean }, home: string, color: boolean) =>
  Effect.sync(() => {
    const exitCode = exitCodeFor(checks);
    const count = (level: Level) => checks.filter((c) => c.status === level).length;
    const summary = { ok: count("ok"), warn: count("warn"), fail: count("fail") };
    const colour = { ok: "green", warn: "yellow", fail: "red" } as const;
    const text = options.json
      ? JSON.stringify({ version: 1, home, checks, summary, exitCode }, null, 2)
      : [
          ...checks.map(
            (c) =>
              `${paint(color, colour[c.status], c.status.padEnd(4))}  ${c.subject === null ? "" : `${c.subject}: `}${c.message}`,
          ),
          `${summary.ok} ok, ${summary.warn} warning(s), ${summary.fail} failure(s)`,
        ].join("\n");
    process.stdout.write(`${text}\n`);
    process.exitCode = exitCode;
  });

export const doctorCommand = Command.make(
  "doctor",
  {
    json: jsonFlag,
  },
  (options) => runDoctor(options),
).pipe(
  Command.withDescription("Check permissions, configuration, issuers and clock skew, locks, in-doubt claims, stores"),
  Command.withExamples([
    { command: "baton doctor", description: "ok / warn / fail lines; exit 0, 2 (fix a file) or 4 (retry later)" },
    { command: "baton doctor --json", description: "the same, machine-readable" },
  ]),
);
