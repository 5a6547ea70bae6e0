/**
 * baton installs the way users install it. The four packages are packed (`pnpm pack`: `workspace:` ranges become
 * versions, `publishConfig` points `exports` at the built JavaScript) into a temporary directory and installed with
 * npm into an empty project — from npm's cache where it can, from the npm registry otherwise, and nothing else. Then,
 * with plain `node` (the pinned Node, no flags, no TypeScript loader): `npx baton --version`, a short `npx baton demo`,
 * and the embedding facade imported and run. The tarballs' sizes, the installed size and the install time are
 * printed.
 *
 * The packages must be built first (`npm test` does: `pnpm run build && pnpm run build:packages`); packing runs no
 * build of its own, so that the integration tests running the CLI never see its files being replaced.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ProcessOptions, runProcess } from "../support/child-process.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const PNPM = join(ROOT, "tools", "toolchain", "node_modules", ".bin", "pnpm");
const PACKAGES = ["core", "adapters", "devserver", "cli"] as const;
const BUILT = {
  core: "dist/index.js",
  adapters: "dist/index.js",
  devserver: "dist/index.js",
  cli: "dist/baton.mjs",
} as const;

let work: string;
let project: string;

/** The environment of npm and the installed tools: none of the workspace's npm or baton settings leak in. */
const cleanEnv = (extra: Readonly<Record<string, string>> = {}): Readonly<Record<string, string | undefined>> => {
  const removed = Object.keys(process.env).filter((name) => /^(npm_|BATON_)/i.test(name));
  return { ...Object.fromEntries(removed.map((name) => [name, undefined])), ...extra };
};

const run = async (command: string, args: ReadonlyArray<string>, options: ProcessOptions) => {
  const result = await runProcess(command, args, { timeoutMs: 120_000, ...options });
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited ${result.code}: ${result.stderr.slice(-3000)}`);
  }
  return result;
};

const sizeOf = async (path: string): Promise<number> => {
  const info = await stat(path);
  if (!info.isDirectory()) return info.size;
  const entries = await readdir(path);
  let total = 0;
  for (const entry of entries) total += await sizeOf(join(path, entry));
  return total;
};

const kB = (bytes: number) => `${Math.round(bytes / 1024).toLocaleString("en")} kB`;

beforeAll(async () => {
  for (const name of PACKAGES) {
    const built = join(ROOT, "packages", name, BUILT[name]);
    expect(existsSync(built), `${built} is missing: run \`pnpm run build && pnpm run build:packages\``).toBe(true);
  }
  work = await mkdtemp(join(tmpdir(), "baton-pack-"));
  project = join(work, "project");
  const tarballs = join(work, "tarballs");
  await run(PNPM, ["-r", "--filter", "./packages/*", "pack", "--pack-destination", tarballs], {
    cwd: ROOT,
    env: { npm_config_ignore_scripts: "true" },
  });
  const tarball = Object.fromEntries(
    (await readdir(tarballs)).map((file) => [
      file.replace(/^baton-(.+)-\d+\.\d+\.\d+\.tgz$/, "$1"),
      join(tarballs, file),
    ]),
  );
  const specs = Object.fromEntries(PACKAGES.map((name) => [`@baton/${name}`, `file:${tarball[name]}`]));
  const sizes = await Promise.all(
    PACKAGES.map(async (name) => `@baton/${name} ${kB(await sizeOf(tarball[name] ?? ""))}`),
  );
  process.stdout.write(`packed: ${sizes.join(", ")}\n`);
  await run("mkdir", ["-p", project], {});
  // The same specs as overrides: the packages' dependencies on each other (e.g. @baton/core 0.1.0) come from the
  // tarballs too, never from a registry.
  await writeFile(
    join(project, "package.json"),
    JSON.stringify({
      name: "baton-install-check",
      private: true,
      type: "module",
      dependencies: specs,
      overrides: specs,
    }),
  );
  const started = performance.now();
  await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: project,
    env: cleanEnv(),
    timeoutMs: 240_000,
  });
  const installMs = performance.now() - started;
  const installed = await sizeOf(join(project, "node_modules"));
  const ours = await sizeOf(join(project, "node_modules", "@baton"));
  process.stdout.write(
    `installed in ${(installMs / 1000).toFixed(1)} s: node_modules ${kB(installed)} (@baton/* ${kB(ours)})\n`,
  );
}, 300_000);

afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe("the installed packages", () => {
  it("npx baton --version - should print the version", async () => {
    const result = await run("npx", ["baton", "--version"], { cwd: project, env: cleanEnv() });
    expect(result.stdout.trim()).toBe("baton v0.1.0");
  });

  it("npx baton demo - should run a rotation end to end", async () => {
    const result = await run("npx", ["baton", "demo", "--processes", "4", "--rounds", "1", "--ttl", "2"], {
      cwd: project,
      env: cleanEnv({ NO_COLOR: "1" }),
    });
    expect(result.stdout).toContain("round 1: 4 processes → 1 refresh grant, 0 reuse errors, 4/4 hold");
    expect(result.stdout).toContain("one refresh per rotation, zero reuse, nobody logged out.");
  }, 120_000);

  it("@baton/adapters - should load in plain node from its built JavaScript and run createBaton", async () => {
    const loaded = await run(
      process.execPath,
      ["-e", "import('@baton/adapters').then(m => console.log(typeof m.createBaton))"],
      {
        cwd: project,
        env: cleanEnv(),
      },
    );
    expect(loaded.stdout).toBe("function\n");
    const script = [
      "const { createBaton } = await import('@baton/adapters');",
      "const baton = await createBaton({ home: process.argv[1], storage: 'file', backgroundRefresh: false });",
      "console.log(JSON.stringify({ from: import.meta.resolve('@baton/adapters'), status: await baton.status() }));",
      "await baton.close();",
    ].join("\n");
    const used = await run(process.execPath, ["--input-type=module", "-e", script, join(work, "home")], {
      cwd: project,
      env: cleanEnv(),
    });
    const { from, status } = JSON.parse(used.stdout) as { from: string; status: unknown };
    expect(from).toMatch(/\/node_modules\/@baton\/adapters\/dist\/index\.js$/);
    expect(status).toEqual([]);
  });
});
