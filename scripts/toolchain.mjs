#!/usr/bin/env node
// The repo's own toolchain bootstrap (the gradlew/mvnw idea): baton needs Node >= 22.19 and pnpm, while a fresh
// machine may only have an older Node and npm. This script runs on any Node >= 18 with npm, installs the pinned Node
// LTS and pnpm from tools/toolchain (npm registry packages that carry real binaries) when they are missing or stale,
// installs the workspace with pnpm, and then runs a root script with the pinned Node first on PATH.
//
// Usage: node scripts/toolchain.mjs <pnpm-script> [args...]
// Plain JavaScript on purpose: it must run before TypeScript or any dependency exists.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const toolchainDir = join(root, "tools", "toolchain");
const binDir = join(toolchainDir, "node_modules", ".bin");
const pinned = JSON.parse(readFileSync(join(toolchainDir, "package.json"), "utf8")).dependencies;

const log = (message) => process.stderr.write(`[toolchain] ${message}\n`);

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: "inherit", cwd: root, ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function output(command, args, env) {
  const result = spawnSync(command, args, { cwd: root, env, encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : "";
}

function stamp(files) {
  const hash = createHash("sha256");
  for (const file of files) hash.update(existsSync(file) ? readFileSync(file) : "-");
  return hash.digest("hex");
}

// 1. The pinned Node and pnpm.
const env = { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ""}` };
const haveNode = output(join(binDir, "node"), ["--version"], env) === `v${pinned.node}`;
const havePnpm = output(join(binDir, "pnpm"), ["--version"], env) === pinned.pnpm;
if (!haveNode || !havePnpm) {
  log(`installing Node ${pinned.node} and pnpm ${pinned.pnpm} into tools/toolchain (once)`);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const status = run(npm, ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: toolchainDir });
  if (status !== 0) {
    log("could not install the pinned toolchain; see the npm output above");
    process.exit(status);
  }
}

// 2. The workspace's dependencies, re-installed only when the lockfile or a manifest changed.
const manifests = ["pnpm-lock.yaml", "package.json", "pnpm-workspace.yaml"]
  .concat(["core", "adapters", "devserver", "cli"].map((p) => join("packages", p, "package.json")))
  .concat([join("test", "package.json")])
  .map((file) => join(root, file));
const stampFile = join(root, "node_modules", ".baton-install-stamp");
const wanted = stamp(manifests);
if (!existsSync(stampFile) || readFileSync(stampFile, "utf8") !== wanted) {
  log("installing workspace dependencies with pnpm");
  const frozen = existsSync(join(root, "pnpm-lock.yaml")) ? ["--frozen-lockfile"] : [];
  const status = run(join(binDir, "pnpm"), ["install", ...frozen, "--reporter=append-only"], { env });
  if (status !== 0) process.exit(status);
  writeFileSync(stampFile, wanted);
}

// 3. The requested script, under the pinned Node.
const [script, ...args] = process.argv.slice(2);
if (!script) {
  log("toolchain ready; usage: node scripts/toolchain.mjs <script> [args...]");
  process.exit(0);
}
process.exit(run(join(binDir, "pnpm"), ["run", "--silent", script, ...args], { env }));
