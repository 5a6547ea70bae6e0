/**
 * Diagnostic preload (`node --import ./fs-count-preload.mjs …`): counts calls of node:fs/promises functions, of
 * FileHandle methods and of node:fs's synchronous calls made by the process, and prints `FSCOUNTS <json>` on stderr at exit. Used by the benchmark to
 * say how many file-system calls `baton status` makes per account.
 */
import { createRequire, syncBuiltinESMExports } from "node:module";

const require = createRequire(import.meta.url);
const fsp = require("node:fs/promises");
const counts = {};
const count = (name) => {
  counts[name] = (counts[name] ?? 0) + 1;
};
for (const name of [
  "lstat",
  "stat",
  "open",
  "readFile",
  "readdir",
  "mkdir",
  "rename",
  "rm",
  "unlink",
  "chmod",
  "access",
]) {
  const original = fsp[name];
  fsp[name] = function (...args) {
    count(name);
    return original.apply(this, args);
  };
}
const fs = require("node:fs");
for (const name of [
  "lstatSync",
  "statSync",
  "fstatSync",
  "openSync",
  "readSync",
  "readFileSync",
  "readdirSync",
  "closeSync",
  "fchmodSync",
]) {
  const original = fs[name];
  fs[name] = function (...args) {
    count(name);
    return original.apply(this, args);
  };
}
syncBuiltinESMExports();
// FileHandle methods live on its prototype: reach it through a handle of this very file.
const handle = await fsp.open(new URL(import.meta.url));
const proto = Object.getPrototypeOf(handle);
await handle.close();
delete counts.open;
for (const name of ["stat", "read", "readFile", "close", "sync", "datasync", "write", "writeFile"]) {
  const original = proto[name];
  if (typeof original !== "function") continue;
  proto[name] = function (...args) {
    count(`handle.${name}`);
    return original.apply(this, args);
  };
}
process.on("exit", () => {
  process.stderr.write(`FSCOUNTS ${JSON.stringify(counts)}\n`);
});
