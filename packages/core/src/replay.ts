/**
 * The pure fold of an account's event stream over the lifecycle machine (lifecycle.ts): `replay`, one `step`, the
 * initial snapshot and the user-facing state name. The same fold serves the running system (`status`, the refresh
 * under the lock), `baton replay` and the tests.
 */
import { createActor, initialTransition, transition } from "xstate";
import type { AccountEvent } from "./events.ts";
import {
  type LifecycleEvent,
  type LifecycleInput,
  type LifecycleSnapshot,
  type LifecycleState,
  lifecycleMachine,
} from "./lifecycle.ts";
import { DEFAULT_THRESHOLD_MS } from "./policy.ts";

/** The initial snapshot (no events). */
export const initialSnapshot = (input: LifecycleInput = {}): LifecycleSnapshot =>
  initialTransition(lifecycleMachine, input)[0];

/** One pure step: the snapshot after `event`. Actions are assignments only, so nothing is left to execute. */
export const step = (snapshot: LifecycleSnapshot, event: LifecycleEvent): LifecycleSnapshot =>
  transition(lifecycleMachine, snapshot, event)[0];

/** The actor scope every fold shares (see {@link replay}). */
type FoldScope = Parameters<typeof lifecycleMachine.transition>[2];
let foldScope: FoldScope | undefined;
const scopeForFolds = (): FoldScope => {
  if (foldScope === undefined) {
    // An actor that is never started: its system is only needed for the type; the machine spawns nothing.
    const self = createActor(lifecycleMachine, { input: {} });
    foldScope = {
      self,
      id: "",
      sessionId: "",
      system: self.system,
      logger: () => undefined,
      defer: () => undefined,
      emit: () => undefined,
      stopChild: () => undefined,
      // Every action of the machine is an `assign`, resolved inside the transition: nothing is left to execute.
      actionExecutor: () => undefined,
    };
  }
  return foldScope;
};

/** Initial snapshots per threshold: snapshots are immutable values, so one serves every fold. */
const initials = new Map<number, LifecycleSnapshot>();
const initialFor = (thresholdMs: number): LifecycleSnapshot => {
  let initial = initials.get(thresholdMs);
  if (initial === undefined) {
    initial = initialSnapshot({ thresholdMs });
    initials.set(thresholdMs, initial);
  }
  return initial;
};

/**
 * The pure fold of an event stream; optionally evaluated at `now` (a clock tick folded last). It calls the machine's
 * own `transition` for each event with ONE actor scope shared by every fold, starting from a shared initial
 * snapshot — xstate's standalone `transition()` (what {@link step} calls) builds a throwaway actor and its initial
 * snapshot on every call, which made a fold 5× slower (docs/performance.md). The machine's actions only assign
 * context, so the scope never runs anything. The property tests check that this equals the step-by-step fold on
 * every prefix. `from` resumes a fold: `replay(b, { from: replay(a) })` equals `replay([...a, ...b])`.
 */
export const replay = (
  events: Iterable<AccountEvent>,
  options: LifecycleInput & {
    readonly now?: number;
    /** Resume from this snapshot (a checkpoint, fold-checkpoint.ts) instead of the initial one; its threshold holds. */
    readonly from?: LifecycleSnapshot;
  } = {},
): LifecycleSnapshot => {
  const scope = scopeForFolds();
  let snapshot = options.from ?? initialFor(options.thresholdMs ?? DEFAULT_THRESHOLD_MS);
  for (const event of events) snapshot = lifecycleMachine.transition(snapshot, event, scope);
  if (options.now !== undefined) {
    snapshot = lifecycleMachine.transition(snapshot, { type: "clock.tick", at: options.now }, scope);
  }
  return snapshot;
};

/** The flat state name of a snapshot. */
export const stateName = (snapshot: LifecycleSnapshot): LifecycleState => {
  const value = snapshot.value as string | { readonly active?: string };
  if (typeof value === "string") return value as LifecycleState;
  const inner = value.active;
  return inner === undefined ? "valid" : (inner as LifecycleState);
};
