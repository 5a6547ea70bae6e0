/**
 * Running a command so that SIGINT, SIGTERM and SIGHUP stop it the safe way (SPEC §6): the signal interrupts the
 * command's fiber instead of killing the process. The refresh protocol lets an interruption release a claim it has
 * not presented yet, and finishes a presentation that is on the wire — waiting for the answer and storing it — before
 * it yields (core protocol/present.ts), so a rotation the server made is never lost to a Ctrl-C. A second signal ends
 * the process at once, as users expect of a command they want gone. The exit code after a signal is 128 + its number.
 * While a command hands the signals on to a child of its own (`baton exec`), this stop-on-signal is set aside: the
 * child decides, and its exit status is the command's.
 */
import { constants } from "node:os";
import { Effect, type Exit, Fiber } from "effect";

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
type StopSignal = (typeof SIGNALS)[number];

export interface SignalledExit<A, E> {
  readonly exit: Exit.Exit<A, E>;
  /** The signal that interrupted the command, if one did. */
  readonly signal: StopSignal | undefined;
}

/** The conventional exit code of a process stopped by `signal`. */
export const signalExitCode = (signal: StopSignal): number => 128 + constants.signals[signal];

/** How many children signals are being handed on to right now (see {@link forwardingSignals}). */
let forwarding = 0;

/** Runs `effect` with this process's stop signals handed on to a child instead of stopping the command. */
export const forwardingSignals = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      forwarding += 1;
    }),
    () => effect,
    () =>
      Effect.sync(() => {
        forwarding -= 1;
      }),
  );

export const runInterruptibly = async <A, E>(effect: Effect.Effect<A, E>): Promise<SignalledExit<A, E>> => {
  const fiber = Effect.runFork(effect);
  let received: StopSignal | undefined;
  const handlers = SIGNALS.map((signal) => {
    const handler = () => {
      if (forwarding > 0) return;
      if (received !== undefined) process.exit(signalExitCode(signal));
      received = signal;
      process.stderr.write(`baton: ${signal}: stopping (a refresh already sent is answered and stored first)\n`);
      Effect.runFork(Fiber.interrupt(fiber));
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  try {
    const exit = await Effect.runPromise(Fiber.await(fiber));
    return { exit, signal: received };
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
};

/** The exit code of a run: 128 + N when signal N stopped it, else the command's own. */
export const exitCodeOfRun = <A, E>(run: SignalledExit<A, E>, ofExit: (exit: Exit.Exit<A, E>) => number): number =>
  run.signal !== undefined ? signalExitCode(run.signal) : ofExit(run.exit);
