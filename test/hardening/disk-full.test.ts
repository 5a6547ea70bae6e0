/**
 * A disk that fills up while a refresh is on the wire, and stays full for more than a minute (#14 item 8), with real
 * `baton` processes and a BATON_HOME on a small tmpfs: the server has rotated, so the new credentials must not be lost.
 * The refreshing process keeps them in memory, keeps the lock (no sibling presents the consumed token), marks its
 * claim rotated, says what it waits for, and stores them as soon as there is space again. Before: it gave up after
 * 60 s, the claim stayed "presenting" with no answer stored, and the next process revoked the account.
 */
import { execFileSync } from "node:child_process";
import { closeSync, openSync, unlinkSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addProvider,
  claimFiles,
  loginHeadless,
  REF,
  readSecretRecord,
  sleep,
  startHooked,
  token,
  waitUntilExpired,
} from "../support/account.ts";
import { startBaton } from "../support/baton-cli.ts";
import { describeExit, useLocalServer } from "../support/local-server.ts";

const FULL_FOR_MS = 65_000;
const server = useLocalServer({ accessTokenTtlSeconds: 2, latencyMs: 1_000 });
let mountPoint: string | undefined;
let mountProblem: string | undefined;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), "baton-tmpfs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", dir], { stdio: "pipe" });
    mountPoint = dir;
  } catch (error) {
    mountProblem = `cannot mount a tmpfs (${error instanceof Error ? error.message.split("\n")[0] : "error"}); run as root`;
    await rm(dir, { recursive: true, force: true });
  }
});
afterAll(async () => {
  if (mountPoint !== undefined) {
    execFileSync("umount", ["-l", mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  }
});

/** Fills the file system of `dir` up to its last byte; returns the filler's path. */
const fill = (dir: string): string => {
  const path = join(dir, "filler");
  const fd = openSync(path, "w");
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch {
    // ENOSPC: full.
  }
  for (let size = 4096; size >= 1; size /= 2) {
    try {
      for (;;) writeSync(fd, Buffer.alloc(size));
    } catch {
      // smaller pieces next
    }
  }
  closeSync(fd);
  return path;
};

describe("a full disk while storing a rotation", () => {
  it(`full for ${FULL_FOR_MS / 1000} s - should keep the new credentials, hold the lock, and store them once there is space`, async (context) => {
    if (mountPoint === undefined) {
      if (process.getuid?.() === 0) throw new Error(mountProblem);
      return context.skip(mountProblem);
    }
    const home = join(mountPoint, "home");
    await addProvider(home, server());
    await loginHeadless(home);
    await waitUntilExpired(home);
    const before = server().counters();
    const holder = startHooked(["token", REF], home, "presenting:stall-ms:0");
    await holder.reached;
    const filler = fill(mountPoint);
    const fullSince = Date.now();
    // A sibling meanwhile waits for the live holder and never presents the consumed token.
    const sibling = startBaton(["token", REF], { home });
    await sleep(FULL_FOR_MS);
    expect(holder.child.exitCode, "the holder gave up while the disk was full").toBeNull();
    unlinkSync(filler);
    const [held, waited] = await Promise.all([holder.done, sibling.done]);
    console.info(`[disk-full] full for ${Date.now() - fullSince} ms; holder ${describeExit(held).slice(0, 300)}`);
    expect(held.code, describeExit(held)).toBe(0);
    expect(held.stderr).toMatch(/storing generation 2 failed.*retrying/);
    expect([0, 4]).toContain(waited.code);
    expect((await readSecretRecord(home)).generation).toBe(2);
    expect(await claimFiles(home)).toContain("g1-a1.rotated");
    expect(server().counters().tokenRequests - before.tokenRequests).toBe(1);
    // The stored generation is the live one: its own (expired by now) token refreshes normally, no reuse.
    const after = await token(home);
    expect(after.code, describeExit(after)).toBe(0);
    const counters = server().counters();
    expect(counters.tokenRequests - before.tokenRequests).toBe(2);
    expect(counters.reuseErrors - before.reuseErrors).toBe(0);
  });
});
