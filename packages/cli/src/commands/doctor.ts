/**
 * `baton doctor [--json]`: read-only checks of BATON_HOME, each reported as an ok / warn / fail line:
 *
 * - permissions: directories 0700, files 0600, no symbolic links below BATON_HOME, no leftovers of interrupted
 *   writes or lock recoveries (a loose secret record or any symlink fails; other loose modes warn — baton repairs them
 *   on the next access);
 * - config.json parses; the storage kind in use; each provider's issuer is reachable, with the clock skew from its
 *   HTTP `Date` header (core's `clockSkew`; warn beyond 30 s — baton never trusts clocks for safety, but expiry does);
 * - per account: its state and storage, the secret record decodes (read without moving anything), the event log's
 *   health (torn tail, corrupt records, past repairs), a lock left by a dead process, in-doubt claims (recorded, or
 *   pending for the next process), a revoked state; then quarantine/ contents and orphaned sessions.
 *
 * Exit codes: 0 no failure (warnings allowed); 2 a file in BATON_HOME needs fixing (malformed config, corrupt record,
 * symlink, loose secret); 4 only retryable failures (an issuer unreachable or answering 5xx). docs/cli.md has the JSON.
 */
import { constants, type Stats } from "node:fs";
import { lstat, readdir, readFile, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import { FileEventStore, FileLock, NodeHostIdentity, OAuthHttp, ProviderRegistry } from "@baton/adapters";
import {
  type AccountRef,
  accountKey,
  allAccounts,
  ClaimStore,
  Credentials,
  clockSkew,
  EventStore,
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
const LEFTOVER = /^\..+\.tmp-|^refresh\.lock\.(dead|recovering)-/;

/** Walks BATON_HOME without following links. */
export const checkTree = async (home: string): Promise<ReadonlyArray<Check>> => {
  const top = await stat(home).catch(() => undefined);
  if (top === undefined) return [ok("home", home, "does not exist yet (the first login creates it)")];
  if (!top.isDirectory()) return [fail("home", home, "is not a directory")];
  const checks: Array<Check> = [];
  if ((top.mode & 0o077) !== 0) checks.push(warn("home", home, `has mode ${mode(top)}; expected 700 (chmod 700 it)`));
  const counts = { dirs: 1, files: 0 };
  const walk = async (dir: string): Promise<void> => {
    const names = await readdir(dir).catch(() => undefined);
    if (names === undefined) {
      checks.push(fail("permissions", relative(home, dir) || home, "cannot be read by this user"));
      return;
    }
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
        await walk(path);
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
  await walk(home);
  if (!checks.some((c) => c.check === "permissions" || c.check === "home")) {
    const text = `${counts.dirs} directories 0700, ${counts.files} files 0600, no symbolic links`;
    checks.unshift(ok("permissions", home, text));
  }
  return checks;
};

/** Any HTTP answer from the issuer's discovery URL means reachable; its `Date` header gives the clock skew. */
export const probeIssuer = async (name: string, issuer: string): Promise<Check> => {
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
  const events = lines.map((text) => FileEventStore.parseLine(Buffer.from(text, "utf8")));
  const bad = events.filter((event) => event === undefined).length;
  const lastLineBad = tail === "" && events.length > 0 && events.at(-1) === undefined;
  const repairs = events.filter((event) => event?.type === "log.repaired").length;
  return { torn: tail !== "" || lastLineBad, corrupt: bad - (lastLineBad ? 1 : 0), repairs };
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

export const checkAccount = (home: string, account: AccountRef) =>
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
    const log = yield* Effect.promise(() => scanLog(join(dir, "events.log")));
    if (log?.torn === true)
      checks.push(warn("events", key, "events.log has a torn last record; the next write truncates it"));
    if (log !== undefined && log.corrupt > 0) {
      const text = `events.log has ${log.corrupt} corrupt record(s); the next write copies it to quarantine/ and repairs it`;
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
    const state = stateName(snapshot);
    const store = yield* SecretStore;
    const stored = store.kind === "file" ? secret : ((yield* store.read(account)) ?? "absent");
    const generation = Math.max(typeof stored === "object" ? stored.generation : 0, snapshot.context.generation);
    const doubt = snapshot.context.inDoubt;
    if (doubt !== undefined) {
      const text = `generation ${doubt.generation} is in doubt: sent by pid ${doubt.pid} on ${doubt.host} at ${absoluteTime(doubt.at)}, never answered`;
      checks.push(warn("in-doubt", key, text));
    } else if (typeof stored === "object") {
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
    return [ok("account", key, summary), ...checks];
  });

export const exitCodeFor = (checks: ReadonlyArray<Check>): number =>
  checks.some((c) => c.status === "fail" && c.code === 2) ? 2 : checks.some((c) => c.status === "fail") ? 4 : 0;

export const runDoctor = (options: { readonly json: boolean }) =>
  Effect.gen(function* () {
    const env = yield* CliEnvironment;
    const checks: Array<Check> = [...(yield* Effect.promise(() => checkTree(env.home)))];
    const config = yield* ProviderRegistry.loadConfig(env.home).pipe(Effect.result);
    if (config._tag === "Failure") {
      checks.push(fail("config", "config.json", config.failure.message));
    } else {
      const { providers, defaults } = config.success;
      const names = Object.keys(providers);
      const text = `${names.length} provider(s), ${Object.keys(defaults).length} default account(s)`;
      checks.push(ok("config", "config.json", text));
      const kind = (yield* SecretStore).kind;
      checks.push(
        env.storage === "keychain" && kind !== "keychain"
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
    for (const account of yield* allAccounts) checks.push(...(yield* checkAccount(env.home, account)));
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
    const orphans = yield* (yield* Sessions).stale(WEEK_MS);
    checks.push(
      orphans.length === 0
        ? ok("sessions", null, "no orphaned sessions")
        : warn("sessions", null, `${orphans.length} orphaned session(s); \`baton clean --yes\` removes them`),
    );
    const exitCode = exitCodeFor(checks);
    const count = (level: Level) => checks.filter((c) => c.status === level).length;
    const summary = { ok: count("ok"), warn: count("warn"), fail: count("fail") };
    const colour = { ok: "green", warn: "yellow", fail: "red" } as const;
    const text = options.json
      ? JSON.stringify({ version: 1, home: env.home, checks, summary, exitCode }, null, 2)
      : [
          ...checks.map(
            (c) =>
              `${paint(env.color, colour[c.status], c.status.padEnd(4))}  ${c.subject === null ? "" : `${c.subject}: `}${c.message}`,
          ),
          `${summary.ok} ok, ${summary.warn} warning(s), ${summary.fail} failure(s)`,
        ].join("\n");
    yield* Effect.sync(() => {
      process.stdout.write(`${text}\n`);
      process.exitCode = exitCode;
    });
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
