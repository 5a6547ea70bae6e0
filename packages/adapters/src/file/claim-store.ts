/**
 * The file claim store: exclusive, durable claims on a generation (I1), in `accounts/<provider>/<account>/claims/`:
 *
 *   g<generation>-a<attempt>.claim       {"generation", "attempt", "claimant": {"host", "pid", "at"}}
 *   g<generation>-a<attempt>.presenting  exists once the request may have left (empty)
 *   g<generation>-a<attempt>.released    {"reason"}: the request was definitely not processed
 *
 * Each record is created exclusively and with its whole content: written to a temp file, fsynced, then published with
 * `link(2)` (atomic, fails with EEXIST; an `O_CREAT|O_EXCL` create where hard links are unsupported), then the
 * directory is fsynced. So a second claimant of (g, a) always gets `false`, whatever any lock says, and a reader never
 * sees an empty or half-written claim. `markPresenting` and `release` are idempotent (the first record stays).
 *
 * Safe side: a claim file that cannot be read as a claim (bad JSON, wrong schema, its name and content disagree) or a
 * `.presenting`/`.released` marker without its `.claim` counts as a PRESENTED claim by an unknown claimant
 * (host "(unknown)", pid 0, `at` = the file's mtime), so the protocol treats it as in flight, then in doubt (I9) —
 * never as a generation that is free to present again. A malformed `.released` marker is ignored (not released).
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import {
  type AccountRef,
  type Claimant,
  type ClaimRecord,
  ClaimStore,
  type ClaimStoreShape,
  type StoreFailure,
} from "@baton/core";
import { type Effect, Exit, Layer, Schema } from "effect";
import {
  accountParts,
  createExclusive,
  describeAccount,
  errorCode,
  fsyncDir,
  readSmallFile,
  runFs,
  secureDir,
  type Warn,
  writeNewFile,
} from "./paths.ts";

export const CLAIMS_DIR = "claims";
export const UNKNOWN_HOST = "(unknown)";

export interface FileClaimStoreOptions {
  /** BATON_HOME. */
  readonly home: string;
}

/** The file name of a claim record kind for (generation, attempt). */
export const claimFileName = (generation: number, attempt: number, kind: "claim" | "presenting" | "released"): string =>
  `g${generation}-a${attempt}.${kind}`;

const NAME = /^g(\d+)-a(\d+)\.(claim|presenting|released)$/;

const ClaimFile = Schema.Struct({
  generation: Schema.Int,
  attempt: Schema.Int,
  claimant: Schema.Struct({ host: Schema.String, pid: Schema.Int, at: Schema.Finite }),
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

/** Reads a small record file without following links: its text and mtime, or `undefined` when absent. */
const readRecordFile = async (path: string, warn: Warn): Promise<{ text: string; mtimeMs: number } | undefined> => {
  const file = readSmallFile(path, warn);
  return file === undefined ? undefined : { text: file.bytes.toString("utf8"), mtimeMs: file.stats.mtimeMs };
};

const readClaim = async (
  dir: string,
  generation: number,
  attempt: number,
  kinds: ReadonlySet<string>,
  warn: Warn,
): Promise<ClaimRecord> => {
  const claimFile = kinds.has("claim")
    ? await readRecordFile(join(dir, claimFileName(generation, attempt, "claim")), warn)
    : undefined;
  let released: string | undefined;
  if (kinds.has("released")) {
    const file = await readRecordFile(join(dir, claimFileName(generation, attempt, "released")), warn);
    const decoded = decodeReleased(parseJson(file?.text ?? ""));
    if (Exit.isSuccess(decoded)) released = decoded.value.reason;
  }
  const decoded = decodeClaimFile(parseJson(claimFile?.text ?? ""));
  if (
    claimFile !== undefined &&
    Exit.isSuccess(decoded) &&
    decoded.value.generation === generation &&
    decoded.value.attempt === attempt
  ) {
    return { generation, attempt, claimant: decoded.value.claimant, presenting: kinds.has("presenting"), released };
  }
  const path = join(dir, claimFileName(generation, attempt, "claim"));
  warn(`${path} is missing or malformed; counting it as a presented claim by an unknown claimant`);
  const unknown: Claimant = { host: UNKNOWN_HOST, pid: 0, at: claimFile?.mtimeMs ?? 0 };
  return { generation, attempt, claimant: unknown, presenting: true, released };
};

export const make = (options: FileClaimStoreOptions): ClaimStoreShape => {
  const { home } = options;
  const where = (account: AccountRef) => join(describeAccount(home, account), CLAIMS_DIR);
  const claimsDirOf = async (account: AccountRef, create: boolean, warn: Warn) =>
    secureDir(home, [...accountParts(home, account), CLAIMS_DIR], create, warn);

  const claim = (
    account: AccountRef,
    generation: number,
    attempt: number,
    claimant: Claimant,
  ): Effect.Effect<boolean, StoreFailure> =>
    runFs("create a claim in", where(account), async (warn) => {
      const dir = (await claimsDirOf(account, true, warn)) ?? where(account);
      const content = JSON.stringify({
        generation,
        attempt,
        claimant: { host: claimant.host, pid: claimant.pid, at: claimant.at },
      });
      return createExclusive(join(dir, claimFileName(generation, attempt, "claim")), content);
    });

  const markPresenting = (
    account: AccountRef,
    generation: number,
    attempt: number,
  ): Effect.Effect<void, StoreFailure> =>
    runFs("mark a claim as presenting in", where(account), async (warn) => {
      const dir = (await claimsDirOf(account, true, warn)) ?? where(account);
      try {
        await writeNewFile(join(dir, claimFileName(generation, attempt, "presenting")), "");
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
      const dir = (await claimsDirOf(account, true, warn)) ?? where(account);
      await createExclusive(join(dir, claimFileName(generation, attempt, "released")), JSON.stringify({ reason }));
    });

  const list = (account: AccountRef, generation: number): Effect.Effect<ReadonlyArray<ClaimRecord>, StoreFailure> =>
    runFs("list the claims in", where(account), async (warn) => {
      const dir = await claimsDirOf(account, false, warn);
      if (dir === undefined) return [];
      const attempts = new Map<number, Set<string>>();
      for (const name of readdirSync(dir)) {
        const match = NAME.exec(name);
        if (match === null || Number(match[1]) !== generation) continue;
        const attempt = Number(match[2]);
        const kinds = attempts.get(attempt) ?? new Set<string>();
        kinds.add(match[3] ?? "");
        attempts.set(attempt, kinds);
      }
      const records: Array<ClaimRecord> = [];
      for (const [attempt, kinds] of [...attempts].sort(([a], [b]) => a - b)) {
        records.push(await readClaim(dir, generation, attempt, kinds, warn));
      }
      return records;
    });

  return { claim, markPresenting, release, list };
};

/** The file claim store as a layer. */
export const layer = (options: FileClaimStoreOptions): Layer.Layer<ClaimStore> =>
  Layer.succeed(ClaimStore, ClaimStore.of(make(options)));
