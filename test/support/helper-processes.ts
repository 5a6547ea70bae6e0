/**
 * Running the credential helpers the way their tools do: `docker-credential-baton ACTION` with a request on stdin
 * (the bundled packages/cli/dist/docker-credential-baton.mjs), a real `git credential …` whose configured helper is
 * this repository's `baton git-credential`, and golden-file comparison of wire formats with the secrets replaced by
 * placeholders (golden files never hold a token).
 */
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BATON, type BatonResult } from "./baton-cli.ts";
import { runProcess } from "./child-process.ts";

export const DOCKER_HELPER = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "packages",
  "cli",
  "dist",
  "docker-credential-baton.mjs",
);

export interface ProcessRun extends BatonResult {}

/** Runs `command args` with `input` on stdin and the given environment added to this process's. */
export const runWithInput = (
  command: string,
  args: ReadonlyArray<string>,
  input: string,
  env: Readonly<Record<string, string>>,
  timeoutMs = 60_000,
): Promise<ProcessRun> => runProcess(command, args, { env, stdin: { text: input }, timeoutMs });

/** The environment a helper child needs to find the test's BATON_HOME (file storage, no colour). */
export const batonEnv = (home: string): Record<string, string> => ({
  BATON_HOME: home,
  BATON_STORAGE: "file",
  NO_COLOR: "1",
});

/** `docker-credential-baton ACTION` with `input` on stdin. */
export const dockerHelper = (home: string, action: string, input = "") =>
  runWithInput(process.execPath, [DOCKER_HELPER, action], input, batonEnv(home));

/** `baton ARGS` with `input` on stdin and extra environment. */
export const batonWithInput = (home: string, args: ReadonlyArray<string>, input: string, env = {}) =>
  runWithInput(process.execPath, [BATON, ...args], input, { ...batonEnv(home), ...env });

/** The git helper command line that runs this repository's bundled baton (git runs it through the shell). */
export const gitHelperCommand = (extra: string): string => `!"${process.execPath}" "${BATON}" git-credential ${extra}`;

/** A golden file's text. */
export const golden = (name: string): Promise<string> =>
  readFile(join(dirname(fileURLToPath(import.meta.url)), "..", "integrations", "golden", name), "utf8");

/** `text` with every occurrence of each secret replaced by its placeholder. */
export const redact = (text: string, replacements: Readonly<Record<string, string>>): string =>
  Object.entries(replacements).reduce(
    (current, [secret, placeholder]) => current.split(secret).join(placeholder),
    text,
  );
