/**
 * Quarantine: corrupt store files are moved (or, for the event log, copied) into `BATON_HOME/quarantine/` under
 * timestamped names, bytes intact, never blanked (I4, I7). `doctor` and `rebuild` can explain and recover from there.
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { chmod, copyFile, link, lstat, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { AccountRef } from "@baton/core";
import { errorCode, FILE_MODE, type Warn } from "./fs-base.ts";
import { fsyncDir, secureDir } from "./secure-write.ts";

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;

// ------------------------------------------------------------------------------------------------------ quarantine

/** A timestamped, unique file name in quarantine/ for `source` of `account` (wall clock: naming only). */
const quarantineName = (source: string, account: AccountRef | undefined): string => {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const owner = account === undefined ? "" : `${account.provider}-${account.account}-`;
  return `${stamp}-${owner}${basename(source)}-${randomBytes(3).toString("hex")}`;
};

/**
 * Moves `source` into quarantine/ by rename (the bytes are kept, nothing is blanked). `expectedIno` guards against
 * moving a file that a writer replaced after it was read: if the moved file is not that inode it is put back
 * (exclusively) and `undefined` is returned, meaning "read again".
 */
export const moveToQuarantine = async (
  home: string,
  source: string,
  account: AccountRef | undefined,
  expectedIno: number,
  warn: Warn,
): Promise<string | undefined> => {
  const dir = (await secureDir(home, ["quarantine"], true, warn)) ?? join(home, "quarantine");
  const target = join(dir, quarantineName(source, account));
  try {
    await rename(source, target);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw error;
  }
  const moved = await lstat(target);
  if (moved.ino !== expectedIno) {
    await link(target, source).then(
      () => unlink(target),
      () => warn(`${source} changed while it was being quarantined; the newer copy stays at ${target}`),
    );
    return undefined;
  }
  await fsyncDir(dir);
  await fsyncDir(dirname(source));
  return target;
};

/** Copies `source` into quarantine/ (0600, durable) and returns the copy's path. */
export const copyToQuarantine = async (
  home: string,
  source: string,
  account: AccountRef | undefined,
  warn: Warn,
): Promise<string> => {
  const dir = (await secureDir(home, ["quarantine"], true, warn)) ?? join(home, "quarantine");
  const target = join(dir, quarantineName(source, account));
  await copyFile(source, target, constants.COPYFILE_EXCL);
  await chmod(target, FILE_MODE);
  const handle = await open(target, constants.O_RDONLY | O_NOFOLLOW);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsyncDir(dir);
  return target;
};
