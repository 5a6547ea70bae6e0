/**
 * Child processes whose wall clock is off, for clock-skew and clock-jump tests: environment additions that preload
 * libfaketime (Debian's `faketime` package, installed by scripts/system-deps.sh) into a child, so `Date.now()`,
 * `new Date()` and every other wall-clock read in it are shifted, while its monotonic clock (`process.hrtime`,
 * `performance.now()`, timers) stays the machine's real one.
 *
 * - `clockOffsetEnv(90)`: a clock 90 s fast for the whole life of the child (`-90`: slow).
 * - `adjustableClock()`: an offset the test changes while the child runs (a jump forward or back). libfaketime then
 *   reads the offset from a file on every clock read (about 4× slower `Date.now()`, still ~400,000 calls/s).
 *
 * What is set, and why:
 * - `LD_PRELOAD`: the multi-threaded build `libfaketimeMT.so.1` when present (Node reads clocks from several
 *   threads), found under Debian's multiarch directory; any LD_PRELOAD the parent had is kept after it.
 * - `FAKETIME=+90` (whole seconds: libfaketime parses fractions with the locale's decimal separator).
 * - `FAKETIME_DONT_FAKE_MONOTONIC=1`: without it libfaketime also shifts CLOCK_MONOTONIC, and Node's `hrtime` then
 *   jumps by the offset (measured: an hrtime of 1.8e9 s instead of the machine's uptime).
 * - `NO_FAKE_STAT=1`: file times stay the kernel's real ones in every program of the child (Node reads them with
 *   `statx`, which libfaketime does not intercept anyway). So a shifted process sees a file written just now as
 *   written 90 s ago (or in the future) — exactly how a skewed clock meets a shared store's mtimes.
 * Only dynamically linked programs are affected (Node and Debian's binaries are).
 */
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const LIBRARY_NAMES = ["libfaketimeMT.so.1", "libfaketime.so.1"];

/** The directories Debian and a source build put libfaketime in, the machine's multiarch directory first. */
function candidateDirectories(): string[] {
  const multiarch = process.arch === "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
  const others = existsSync("/usr/lib")
    ? readdirSync("/usr/lib", { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && entry.name.endsWith("-linux-gnu"))
        .map((entry) => `/usr/lib/${entry.name}/faketime`)
    : [];
  return [`/usr/lib/${multiarch}/faketime`, ...others, "/usr/lib/faketime", "/usr/local/lib/faketime"];
}

/** The libfaketime to preload, or undefined when it is not installed. */
export function findLibfaketime(): string | undefined {
  for (const directory of candidateDirectories()) {
    for (const name of LIBRARY_NAMES) {
      const path = join(directory, name);
      if (existsSync(path)) return path;
    }
  }
  return undefined;
}

function libfaketime(): string {
  const path = findLibfaketime();
  if (path === undefined) {
    throw new Error("libfaketime is not installed (Debian package faketime); run scripts/system-deps.sh as root");
  }
  return path;
}

/** libfaketime's relative offset syntax: a sign and whole seconds. */
function offsetSpec(offsetSeconds: number): string {
  if (!Number.isSafeInteger(offsetSeconds)) {
    throw new RangeError(`a clock offset is a whole number of seconds, got ${offsetSeconds}`);
  }
  return offsetSeconds < 0 ? String(offsetSeconds) : `+${offsetSeconds}`;
}

function preloadEnv(): Record<string, string> {
  const inherited = process.env.LD_PRELOAD;
  return {
    LD_PRELOAD: inherited === undefined || inherited === "" ? libfaketime() : `${libfaketime()}:${inherited}`,
    FAKETIME_DONT_FAKE_MONOTONIC: "1",
    NO_FAKE_STAT: "1",
  };
}

/** Environment additions for a child whose wall clock is `offsetSeconds` ahead (negative: behind) of the machine's. */
export function clockOffsetEnv(offsetSeconds: number): Record<string, string> {
  return { ...preloadEnv(), FAKETIME: offsetSpec(offsetSeconds) };
}

export interface AdjustableClock {
  /** Environment additions for the children that follow this clock (no FAKETIME: it would win over the file). */
  readonly env: Readonly<Record<string, string>>;
  /** Moves the children's wall clock to `offsetSeconds` from the machine's; they see it at their next clock read. */
  set(offsetSeconds: number): Promise<void>;
  /** Removes the offset file (children still running then fall back to the real clock). */
  dispose(): Promise<void>;
}

/** A wall-clock offset that can jump while the children run (libfaketime's timestamp file, read on every call). */
export async function adjustableClock(initialOffsetSeconds = 0): Promise<AdjustableClock> {
  const directory = await mkdtemp(join(tmpdir(), "baton-faketime-"));
  const file = join(directory, "offset");
  const set = async (offsetSeconds: number): Promise<void> => {
    // Written aside and renamed, so a child never reads a half-written offset.
    const staged = `${file}.next`;
    await writeFile(staged, `${offsetSpec(offsetSeconds)}\n`);
    await rename(staged, file);
  };
  await set(initialOffsetSeconds);
  return {
    env: { ...preloadEnv(), FAKETIME_TIMESTAMP_FILE: file, FAKETIME_NO_CACHE: "1" },
    set,
    dispose: () => rm(directory, { recursive: true, force: true }),
  };
}
