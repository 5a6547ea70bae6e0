/**
 * A test-only `baton`: the real command line (the CLI's `launch`) with faults injected at the refresh protocol's
 * points, for the multi-process tests. `BATON_TEST_HOOK=<point>:hang` makes the process announce `BATON_HOOK <point>`
 * on stderr when it reaches that point and stall there (the test kills it); `<point>:stall-ms:<n>` stalls n ms and
 * continues. hooked-baton.setup.mjs bundles it to test/dist/baton-hooked.mjs before the integration tests; the
 * production bundle (packages/cli/dist) never contains it.
 */
import { type AccountRef, ProtocolHooks, type ProtocolPoint } from "@baton/core";
import { Effect, Layer } from "effect";
import { launch } from "../../packages/cli/src/launcher.ts";

const hooks = (value: string) => {
  const [point, action, arg] = value.split(":");
  return {
    at: (reached: ProtocolPoint, _account: AccountRef) =>
      reached !== point
        ? Effect.void
        : Effect.gen(function* () {
            yield* Effect.sync(() => process.stderr.write(`BATON_HOOK ${reached}\n`));
            // Effect.never holds no handle: Node would exit 0.
            if (action === "hang") return yield* Effect.forever(Effect.sleep("1 hour"));
            if (action === "stall-ms")
              yield* Effect.sync(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(arg)));
          }),
  };
};

const hook = process.env.BATON_TEST_HOOK ?? "";
await launch(process.argv.slice(2), hook === "" ? undefined : Layer.succeed(ProtocolHooks)(hooks(hook)));
