/**
 * Instrumentation shared by the benchmark's children: counting calls of functions on a module object (node:fs and
 * node:fs/promises, FileHandle methods), counting the file-system calls and fs.watch notifications a process makes
 * between two points, and an in-process CPU profiler started and stopped around the code measured.
 */
import { createRequire, syncBuiltinESMExports } from "node:module";

const require = createRequire(import.meta.url);

/** Replaces each function `names` of `target` with one that calls `count(prefix + name)` first. */
export const countCalls = (target, names, count, prefix = "") => {
  for (const name of names) {
    const original = target[name];
    if (typeof original !== "function") continue;
    target[name] = function (...args) {
      count(`${prefix}${name}`);
      return original.apply(this, args);
    };
  }
};

/**
 * Counts, while `begin()` … `end()` brackets the code measured, the calls of node:fs/promises functions, of node:fs
 * callback and synchronous calls (proper-lockfile uses the callback API, the file adapters' small reads the
 * synchronous one) and fs.watch notifications. Install it before the code measured is imported. `end()` returns the
 * counts.
 */
export const fsCallCounter = () => {
  const fs = require("node:fs");
  const fsp = require("node:fs/promises");
  let counts = {};
  let counting = false;
  const count = (name) => {
    if (counting) counts[name] = (counts[name] ?? 0) + 1;
  };
  countCalls(
    fsp,
    ["lstat", "stat", "open", "readFile", "readdir", "mkdir", "rename", "rm", "unlink", "chmod"],
    count,
    "promises.",
  );
  const callbackAndSync = ["mkdir", "stat", "lstat", "utimes", "rmdir", "rm", "readFile", "writeFile", "open"];
  const syncOnly = ["lstatSync", "statSync", "fstatSync", "openSync", "readSync", "readFileSync", "closeSync"];
  countCalls(fs, [...callbackAndSync, ...syncOnly], count, "fs.");
  const watch = fs.watch;
  fs.watch = (path, options, listener) =>
    watch(path, options, (event, name) => {
      count("watch.notifications");
      listener(event, name);
    });
  syncBuiltinESMExports();
  return {
    begin: () => {
      counts = {};
      counting = true;
    },
    end: () => {
      counting = false;
      return counts;
    },
  };
};

/** An in-process CPU profiler (100 µs sampling): `start()`, then `stopInto(file)` writes the `.cpuprofile`. */
export const cpuProfiler = async () => {
  const { Session } = await import("node:inspector/promises");
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  return {
    start: () => session.post("Profiler.start"),
    stopInto: async (file) => {
      const { profile } = await session.post("Profiler.stop");
      const { writeFile } = await import("node:fs/promises");
      await writeFile(file, JSON.stringify(profile));
    },
  };
};
