/**
 * Stale marks: "a client was refused with generation g's access token" (git calls its helper's `erase` after any
 * 401), recorded as `<account dir>/stale.json` = `{ "version": 1, "generation": g, "at": ms }`. A mark asks for one
 * forced refresh of exactly that generation: whoever acts on it refreshes under the protocol with g as the
 * generation it holds, so a newer generation in the store (a sibling already rotated, or acted on the same mark) is
 * adopted instead of refreshing again. A mark therefore never needs removing: once the stored generation is past g,
 * it is inert. Holds no secret. Written atomically (0600, no symlink followed), like every store file.
 */
import { join } from "node:path";
import type { AccountRef } from "@baton/core";
import { Effect } from "effect";
import {
  accountParts,
  describeAccount,
  readSmallFile,
  replaceAtomically,
  runFs,
  runFsSync,
  secureDir,
} from "./paths.ts";

const STALE_FILE = "stale.json";

export const stalePath = (home: string, ref: AccountRef): string => join(describeAccount(home, ref), STALE_FILE);

/** Records that generation `generation` of `ref` was refused by a client. */
export const markStale = (home: string, ref: AccountRef, generation: number, at: number) =>
  runFs("write", stalePath(home, ref), async (warn) => {
    await secureDir(home, accountParts(home, ref), true, warn);
    await replaceAtomically(stalePath(home, ref), `${JSON.stringify({ version: 1, generation, at })}\n`);
  });

/** The generation last marked stale, or `undefined` (no mark, or one this version cannot read). */
export const staleGeneration = (home: string, ref: AccountRef): Effect.Effect<number | undefined, never> =>
  runFsSync("read", stalePath(home, ref), (warn) => {
    const file = readSmallFile(stalePath(home, ref), warn);
    if (file === undefined) return undefined;
    const record: unknown = JSON.parse(file.bytes.toString("utf8"));
    return typeof record === "object" &&
      record !== null &&
      "version" in record &&
      record.version === 1 &&
      "generation" in record &&
      Number.isInteger(record.generation)
      ? (record.generation as number)
      : undefined;
  }).pipe(Effect.orElseSucceed(() => undefined));
