/**
 * The file claim store: exclusive, durable claims on a generation (I1), in `accounts/<provider>/<account>/claims/`:
 *
 *   g<generation>-a<attempt>.claim       {"generation", "attempt", "claimant": {"host", "pid", "at"}, "refreshFp"?}
 *   g<generation>-a<attempt>.presenting  exists once the request may have left (empty)
 *   g<generation>-a<attempt>.rotated     exists once the server answered and storing the answer failed (empty)
 *   g<generation>-a<attempt>.released    {"reason"}: the request was definitely not processed
 *
 * Each record is created exclusively and with its whole content: written to a temp file, fsynced, then published with
 * `link(2)` (atomic, fails with EEXIST; an `O_CREAT|O_EXCL` create where hard links are unsupported), then the
 * directory is fsynced. So a second claimant of (g, a) always gets `false`, whatever any lock says, and a reader never
 * sees an empty or half-written claim. The markers are idempotent (the first record stays).
 *
 * Liveness (for `acquire`'s judgement, core protocol/claims.ts): a claimant on this host is probed by pid
 * (HostIdentity); a claim made by THIS process is alive exactly while it is registered in this process's registry of
 * live claims — shared by every store instance in the process, so two embedded hosts in one process never judge each
 * other's live claim dead — and dead once its scope closed; a claimant on another host is "unknown" (a time bound).
 *
 * Safe side: a claim file that cannot be read as a claim (bad JSON, wrong schema, its name and content disagree) or a
 * marker without its `.claim` counts as a PRESENTED claim by an unknown claimant (host "(unknown)", pid 0, `at` = the
 * file's mtime), so the protocol treats it as in flight, then in doubt (I9) — never as a generation that is free to
 * present again. A malformed `.released` marker is ignored (not released).
 */
import { readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import {
  type AccountRef,
  type Acquisition,
  type Claimant,
  type ClaimRecord,
  type ClaimRequest,
  ClaimStore,
  type ClaimStoreShape,
  HostIdentity,
  type HostIdentityShape,
  judgeClaims,
  type Liveness,
  RefreshSettings,
  type StoreFailure,
} from "@baton/core";
import { Effect, Exit, Layer, Schema, type Scope } from "effect";
import {
  accountParts,
  createExclusive,
  describeAccount,
  errorCode,
  fsyncDir,
  readSmallFile,
  runFs,
  runFsSync,
  secureDir,
  secureDirSync,
  type Warn,
  writeNewFile,
} from "./paths.ts";

export const CLAIMS_DIR = "claims";
export const UNKNOWN_HOST = "(unknown)";

export interface FileClaimStoreOptions {
  /** BATON_HOME. */
  readonly home: string;
}

type Kind = "claim" | "presenting" | "rotated" | "released";

/** The file name of a claim record kind for (generation, attempt). */
export const claimFileName = (generation: number, attempt: number, kind: Kind): string =>
  `g${generation}-a${attempt}.${kind}`;

const NAME = /^g(\d+)-a(\d+)\.(claim|presenting|rotated|released)$/;

const ClaimFile = Schema.Struct({
  generation: Schema.Int,
  attempt: Schema.Int,
  claimant: Schema.Struct({ host: Schema.String, pid: Schema.Int, at: Schema.Finite }),
  refreshFp: Schema.optionalKey(Schema.String),
});
const decodeClaimFile = Schema.decodeUnknownExit(ClaimFile);
const decodeReleased = Schema.decodeUnknownExit(Schema.Struct({ reason: Schema.String }));

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/**
 * Claims of this process that are being created or are held and not yet given up, as `<claims dir>|<generation>|
 * <attempt>` → how many fibers registered it (two fibers may race to create the same attempt; one of them wins).
 */
const liveHere = new Map<string, number>();
const register = (key: string): void => {
  liveHere.set(key, (liveHere.get(key) ?? 0) + 1);
};
const unregister = (key: string): void => {
  const count = (liveHere.get(key) ?? 0) - 1;
  if (count > 0) liveHere.set(key, count);
  else liveHere.delete(key);
};

const readClaim = (dir: string, generation: number, attempt: number, kinds: ReadonlySet<string>, warn: Warn) => {
  const claimFile = kinds.has("claim")
    ? readSmallFile(join(dir, claimFileName(generation, attempt, "claim")), warn)
    : undefined;
  let released: string | undefined;
  if (kinds.has("released")) {
    const file = readSmallFile(join(dir, claimFileName(generation, attempt, "released")), warn);
    const decoded = decodeReleased(parseJson(file?.bytes.toString("utf8") ?? ""));
    if (Exit.isSuccess(decoded)) released = decoded.value.reason;
  }
  const rotated = kinds.has("rotated");
  const decoded = decodeClaimFile(parseJson(claimFile?.bytes.toString("utf8") ?? ""));
  if (
    claimFile !== undefined &&
    Exit.isSuccess(decoded) &&
    decoded.value.generation === generation &&
    decoded.value.attempt === attempt
  ) {
    const { claimant, refreshFp } = decoded.value;
    return {
      generation,
      attempt,
      claimant,
      presenting: kinds.has("presenting") || rotated,
      released,
      refreshFp,
      rotated,
    };
  }
  const path = join(dir, claimFileName(generation, attempt, "claim"));
  warn(`${path} is missing or malformed; counting it as a presented claim by an unknown claimant`);
  const unknown: Claimant = { host: UNKNOWN_HOST, pid: 0, at: claimFile?.stats.mtimeMs ?? 0 };
  return { generation, attempt, claimant: unknown, presenting: true, released, refreshFp: undefined, rotated };
};

/** The claims directory's entries by generation → attempt → kinds. */
const scan = (dir: string): Map<number, Map<number, Set<string>>> => {
  const byGeneration = new Map<number, Map<number, Set<string>>>();
  for (const name of readdirSync(dir)) {
    const match = NAME.exec(name);
    if (match === null) continue;
    const generation = Number(match[1]);
    const attempt = Number(match[2]);
    const attempts = byGeneration.get(generation) ?? new Map<number, Set<string>>();
    byGeneration.set(generation, attempts);
    const kinds = attempts.get(attempt) ?? new Set<string>();
    kinds.add(match[3] ?? "");
    attempts.set(attempt, kinds);
  }
  return byGeneration;
};

export const make = (options: FileClaimStoreOptions, identity: HostIdentityShape): ClaimStoreShape => {
  const { home } = options;
  const where = (account: AccountRef) => join(describeAccount(home, account), CLAIMS_DIR);
  const existingDir = (account: AccountRef, warn: Warn) =>
    secureDirSync(home, [...accountParts(home, account), CLAIMS_DIR], warn);
  const createdDir = async (account: AccountRef, warn: Warn) =>
    (await secureDir(home, [...accountParts(home, account), CLAIMS_DIR], true, warn)) ?? where(account);
  const liveKey = (account: AccountRef, generation: number, attempt: number) =>
    `${where(account)}|${generation}|${attempt}`;

  const listSync = (account: AccountRef, generation: number, warn: Warn): ReadonlyArray<ClaimRecord> => {
    const dir = existingDir(account, warn);
    if (dir === undefined) return [];
    const attempts = scan(dir).get(generation) ?? new Map<number, Set<string>>();
    return [...attempts]
      .sort(([a], [b]) => a - b)
      .map(([attempt, kinds]) => readClaim(dir, generation, attempt, kinds, warn));
  };

  const liveness = (account: AccountRef, claim: ClaimRecord): Effect.Effect<Liveness> => {
    if (claim.claimant.host !== identity.host) return Effect.succeed("unknown");
    if (claim.claimant.pid === identity.pid) {
      return Effect.succeed(liveHere.has(liveKey(account, claim.generation, claim.attempt)) ? "alive" : "dead");
    }
    return identity.isAlive(claim.claimant.host, claim.claimant.pid);
  };

  /** Creates (generation, attempt) exclusively; a created claim is live in this process until the scope closes. */
  const create = (
    account: AccountRef,
    generation: number,
    attempt: number,
    request: ClaimRequest,
  ): Effect.Effect<boolean, StoreFailure, Scope.Scope> =>
    Effect.suspend(() => {
      // Registered before the file exists: another fiber of this process that lists the claim right after its
      // creation must already see it alive.
      const key = liveKey(account, generation, attempt);
      register(key);
      const forget = Effect.sync(() => unregister(key));
      return runFs("create a claim in", where(account), async (warn) => {
        const dir = await createdDir(account, warn);
        const { host, pid, at } = request.claimant;
        const content = JSON.stringify({
          generation,
          attempt,
          claimant: { host, pid, at },
          ...(request.refreshFp === undefined ? {} : { refreshFp: request.refreshFp }),
        });
        return createExclusive(join(dir, claimFileName(generation, attempt, "claim")), content);
      }).pipe(
        Effect.onError(() => forget),
        Effect.tap((created) => (created ? Effect.addFinalizer(() => forget) : forget)),
      );
    });

  const acquire = (
    account: AccountRef,
    generation: number,
    request: ClaimRequest,
  ): Effect.Effect<Acquisition, StoreFailure, Scope.Scope> =>
    Effect.gen(function* () {
      const settings = yield* RefreshSettings;
      // Another process may create the attempt between the judgement and the create: judge again then.
      for (let round = 0; ; round++) {
        const claims = yield* runFsSync("list the claims in", where(account), (warn) =>
          listSync(account, generation, warn),
        );
        const judged = yield* Effect.forEach(claims, (record) =>
          Effect.map(liveness(account, record), (alive) => ({ record, liveness: alive })),
        );
        const judgement = judgeClaims(judged, request.claimant.at, settings.remoteInFlightMs);
        if (judgement.kind === "in-flight") return { _tag: "InFlight", claim: judgement.claim } as const;
        if (judgement.kind === "in-doubt") {
          const { claim, presented, nextAttempt } = judgement;
          return { _tag: "InDoubt", claim, presented, nextAttempt } as const;
        }
        if (yield* create(account, generation, judgement.nextAttempt, request)) {
          return { _tag: "Granted", attempt: judgement.nextAttempt } as const;
        }
        if (round >= 8) {
          const latest = claims.at(-1);
          if (latest !== undefined) return { _tag: "InFlight", claim: latest } as const;
        }
      }
    });

  const mark = (account: AccountRef, generation: number, attempt: number, kind: "presenting" | "rotated") =>
    runFs(`mark a claim as ${kind} in`, where(account), async (warn) => {
      const dir = await createdDir(account, warn);
      try {
        await writeNewFile(join(dir, claimFileName(generation, attempt, kind)), "");
      } catch (error) {
        if (errorCode(error) === "EEXIST") return;
        throw error;
      }
      await fsyncDir(dir);
    });

  const release = (
    account: AccountRef,
    generation: number,
    attempt: number,
    reason: string,
  ): Effect.Effect<void, StoreFailure> =>
    runFs("release a claim in", where(account), async (warn) => {
      const dir = await createdDir(account, warn);
      await createExclusive(join(dir, claimFileName(generation, attempt, "released")), JSON.stringify({ reason }));
    });

  const list = (account: AccountRef, generation: number): Effect.Effect<ReadonlyArray<ClaimRecord>, StoreFailure> =>
    runFsSync("list the claims in", where(account), (warn) => listSync(account, generation, warn));

  const highest = (account: AccountRef): Effect.Effect<number, StoreFailure> =>
    runFsSync("list the claims in", where(account), (warn) => {
      const dir = existingDir(account, warn);
      return dir === undefined ? 0 : Math.max(0, ...scan(dir).keys());
    });

  const prune = (account: AccountRef, generation: number): Effect.Effect<number, StoreFailure> =>
    runFsSync("prune the claims in", where(account), (warn) => {
      const dir = existingDir(account, warn);
      if (dir === undefined) return 0;
      let removed = 0;
      for (const [g, attempts] of scan(dir)) {
        if (g >= generation) continue;
        for (const [attempt, kinds] of attempts) {
          for (const kind of kinds) unlinkSync(join(dir, claimFileName(g, attempt, kind as Kind)));
          removed += 1;
        }
      }
      return removed;
    });

  return {
    acquire,
    retry: create,
    markPresenting: (account, generation, attempt) => mark(account, generation, attempt, "presenting"),
    markRotated: (account, generation, attempt) => mark(account, generation, attempt, "rotated"),
    release,
    list,
    highest,
    prune,
  };
};

/** The file claim store as a layer; needs HostIdentity (who claims, and whether a claimant on this host is alive). */
export const layer = (options: FileClaimStoreOptions): Layer.Layer<ClaimStore, never, HostIdentity> =>
  Layer.effect(
    ClaimStore,
    Effect.gen(function* () {
      return ClaimStore.of(make(options, yield* HostIdentity));
    }),
  );
