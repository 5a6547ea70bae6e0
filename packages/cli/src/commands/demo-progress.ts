/**
 * What `baton demo` shows while it waits: on a terminal, one line rewritten in place ten times a second — a countdown
 * while a token expires, a spinner with a count while a herd runs — then replaced by the plain result line; piped or
 * redirected, plain lines only (the line saying what it waits for, then the result), so logs stay readable.
 */
import { Effect, Fiber } from "effect";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const TICK_MS = 100;
const CLEAR_LINE = "\r\u001b[2K";

export interface Progress {
  /** Prints a line (after clearing a progress line on a terminal). */
  readonly say: (line: string) => Effect.Effect<void>;
  /** Sleeps `ms`, showing `label(remaining ms)` as a countdown (piped: `label(ms)` once). */
  readonly countdown: (ms: number, label: (remainingMs: number) => string) => Effect.Effect<void>;
  /** Runs `task`, showing `label()` with a spinner (piped: `label()` once, at the start). */
  readonly during: <A, E, R>(label: () => string, task: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>;
}

export const makeProgress = (terminal: boolean, write: (text: string) => void): Progress => {
  const say = (line: string) => Effect.sync(() => write(`${terminal ? CLEAR_LINE : ""}${line}\n`));
  const spin = (label: () => string) =>
    Effect.gen(function* () {
      for (let frame = 0; ; frame++) {
        yield* Effect.sync(() => write(`${CLEAR_LINE}${label()} ${FRAMES[frame % FRAMES.length]}`));
        yield* Effect.sleep(TICK_MS);
      }
    });
  const during = <A, E, R>(label: () => string, task: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    terminal
      ? Effect.gen(function* () {
          const spinner = yield* Effect.forkChild(spin(label));
          return yield* task.pipe(
            Effect.ensuring(Fiber.interrupt(spinner).pipe(Effect.andThen(Effect.sync(() => write(CLEAR_LINE))))),
          );
        })
      : Effect.andThen(say(label()), task);
  const countdown = (ms: number, label: (remainingMs: number) => string) => {
    if (!terminal) return Effect.andThen(say(label(ms)), Effect.sleep(ms));
    let remaining = ms;
    const ticking = Effect.gen(function* () {
      while (remaining > 0) {
        const step = Math.min(TICK_MS, remaining);
        yield* Effect.sleep(step);
        remaining -= step;
      }
    });
    return during(() => label(remaining), ticking);
  };
  return { say, countdown, during };
};
