/**
 * Hostile local conditions through the real CLI (SPEC §6): a permissive umask, symlinks planted at store paths,
 * loosened permissions. Files must be created 0600 and directories 0700 regardless; a symlink is never followed
 * (its target stays untouched); loose permissions are repaired with a warning.
 */
import { spawn } from "node:child_process";
import { chmod, lstat, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type AuthorizationServer, startAuthorizationServer } from "@baton/devserver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accountDir, addProvider, loginHeadless, REF } from "../support/account.ts";
import { BATON, runBaton, tempHome } from "../support/baton-cli.ts";

let server: AuthorizationServer;
beforeAll(async () => {
  server = await startAuthorizationServer({ accessTokenTtlSeconds: 60 });
});
afterAll(async () => {
  await server?.stop();
});

const modes = async (
  dir: string,
): Promise<Array<{ readonly path: string; readonly mode: number; readonly dir: boolean }>> => {
  const out: Array<{ path: string; mode: number; dir: boolean }> = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const info = await lstat(path);
    out.push({ path, mode: info.mode & 0o777, dir: entry.isDirectory() });
    if (entry.isDirectory()) out.push(...(await modes(path)));
  }
  return out;
};

describe("hostile local conditions", () => {
  it("given umask 000, should still create every file 0600 and every directory 0700", async () => {
    const { home, cleanup } = await tempHome();
    try {
      await chmod(home, 0o700);
      const previous = process.umask(0);
      try {
        await addProvider(home, server);
        await loginHeadless(home);
        const token = await new Promise<number>((resolve) => {
          const child = spawn("sh", ["-c", `umask 000; exec "${process.execPath}" "${BATON}" refresh ${REF}`], {
            env: { ...process.env, BATON_HOME: home, BATON_STORAGE: "file" },
            stdio: "ignore",
          });
          child.on("close", (code) => resolve(code ?? -1));
        });
        expect(token).toBe(0);
      } finally {
        process.umask(previous);
      }
      const found = await modes(home);
      expect(found.length).toBeGreaterThan(4);
      const wrong = found
        .filter((f) => (f.dir ? f.mode !== 0o700 : f.mode !== 0o600))
        .map((f) => `${f.path} ${f.mode.toString(8)}`);
      expect(wrong).toEqual([]);
    } finally {
      await cleanup();
    }
  }, 60_000);

  for (const target of ["secret.json", "events.log"]) {
    it(`given a symlink planted at ${target}, should refuse it and leave the target untouched`, async () => {
      const { home, cleanup } = await tempHome();
      try {
        await addProvider(home, server);
        await loginHeadless(home);
        const decoy = join(home, "..", `decoy-${process.pid}-${target}`);
        await writeFile(decoy, "decoy contents\n", { mode: 0o600 });
        const path = join(accountDir(home), target);
        await rm(path);
        await symlink(decoy, path);
        const result = await runBaton(["refresh", REF], { home });
        expect(result.code).not.toBe(0);
        expect(result.stderr).toMatch(/symlink|symbolic link/i);
        expect(await readFile(decoy, "utf8")).toBe("decoy contents\n");
        expect((await lstat(path)).isSymbolicLink()).toBe(true);
        await rm(decoy);
      } finally {
        await cleanup();
      }
    }, 60_000);
  }

  it("given a symlink planted at config.json, should refuse it", async () => {
    const { home, cleanup } = await tempHome();
    try {
      const decoy = join(home, "..", `decoy-config-${process.pid}.json`);
      await writeFile(decoy, '{"version":1,"providers":{},"defaults":{}}\n', { mode: 0o600 });
      await symlink(decoy, join(home, "config.json"));
      const result = await runBaton(["provider", "list"], { home });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/symlink|symbolic link/i);
      await rm(decoy);
    } finally {
      await cleanup();
    }
  });

  it("given a secret file loosened to 0644, should repair it to 0600 with a warning", async () => {
    const { home, cleanup } = await tempHome();
    try {
      await addProvider(home, server);
      await loginHeadless(home);
      const path = join(accountDir(home), "secret.json");
      await chmod(path, 0o644);
      const result = await runBaton(["refresh", REF], { home });
      expect(result.code).toBe(0);
      expect((await lstat(path)).mode & 0o777).toBe(0o600);
      expect(result.stderr).toMatch(/permission|0644|mode/i);
    } finally {
      await cleanup();
    }
  }, 60_000);
});
