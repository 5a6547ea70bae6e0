/**
 * Another live process for the contract suites (fixtures/holder.mjs): it takes an account lock or makes a claim
 * through the real adapters of a file or PostgreSQL store and keeps it until it is killed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const HOLDER = fileURLToPath(new URL("./fixtures/holder.mjs", import.meta.url));

/**
 * Starts `node holder.mjs ARGS` (recorded in `children`, for the cleanup) and resolves once it holds what it was
 * asked to (it prints "held").
 */
export const startHolder = async (args: ReadonlyArray<string>, children: Array<ChildProcess>) => {
  const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", HOLDER, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const lines = createInterface({ input: child.stdout ?? process.stdin });
  const held = await Promise.race([
    new Promise<boolean>((resolve) => lines.on("line", (line) => line === "held" && resolve(true))),
    exited.then(() => false),
  ]);
  if (!held) throw new Error(`holder.mjs ${args.join(" ")} exited before holding`);
  return {
    pid: child.pid ?? -1,
    kill: async () => {
      child.kill("SIGKILL");
      await exited;
    },
  };
};
