/**
 * Diagnostic preload (`node --import ./fs-count-preload.mjs …`): counts calls of node:fs/promises functions, of
 * FileHandle methods and of node:fs's synchronous calls made by the process, and prints `FSCOUNTS <json>` on stderr at exit. Used by the benchmark to
 * say how many file-system calls `baton status` makes per account.
 */
import { createRequire, syncBuiltinESMExports } from "node:module";
import { countCalls } from "./instrument.mjs";

const require = createRequire(import.meta.url);
const fsp = require("node:fs/promises");
const counts = {};
const count = (name) => {
  counts[name] = (counts[name] ?? 0) + 1;
};
countCalls(
  fsp,
  ["lstat", "stat", "open", "readFile", "readdir", "mkdir", "rename", "rm", "unlink", "chmod", "access"],
  count,
);
countCalls(
  require("node:fs"),
  [
    "lstatSync",
    "statSync",
    "fstatSync",
    "openSync",
    "readSync",
    "readFileSync",
    "readdirSync",
    "closeSync",
    "fchmodSync",
  ],
  count,
);
syncBuiltinESMExports();
// FileHandle methods live on its prototype: reach it through a handle of this very file.
const handle = await fsp.open(new URL(import.meta.url));
const proto = Object.getPrototypeOf(handle);
await handle.close();
delete counts.open;
countCalls(proto, ["stat", "read", "readFile", "close", "sync", "datasync", "write", "writeFile"], count, "handle.");
process.on("exit", () => {
  process.stderr.write(`FSCOUNTS ${JSON.stringify(counts)}\n`);
});
