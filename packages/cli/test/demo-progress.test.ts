/**
 * The demo's progress lines (commands/demo-progress.ts): piped, a wait or a running herd is one plain line with no
 * control character; on a terminal the line is rewritten in place while it lasts and cleared before the next line.
 */
import { Effect } from "effect";
import { describe, expect, it } from "vitest";
import { makeProgress } from "../src/commands/demo-progress.ts";

const record = (terminal: boolean) => {
  const written: Array<string> = [];
  return { written, progress: makeProgress(terminal, (text) => written.push(text)) };
};

describe("demo progress", () => {
  it("countdown and during - piped, should print each label once as a plain line", async () => {
    const { written, progress } = record(false);
    await Effect.runPromise(
      Effect.gen(function* () {
        yield* progress.countdown(250, (left) => `waiting ${left} ms`);
        const value = yield* progress.during(() => "herd running", Effect.succeed(7));
        yield* progress.say("done");
        expect(value).toBe(7);
      }),
    );
    expect(written).toEqual(["waiting 250 ms\n", "herd running\n", "done\n"]);
  });

  it("countdown - on a terminal, should rewrite the line as time passes and clear it before the next line", async () => {
    const { written, progress } = record(true);
    await Effect.runPromise(
      Effect.andThen(
        progress.countdown(350, (left) => `waiting ${left} ms`),
        progress.say("next"),
      ),
    );
    const text = written.join("");
    const clear = "\r\u001b[2K";
    expect(text.startsWith(`${clear}waiting 350 ms ⠋${clear}`)).toBe(true);
    expect(text).toContain("waiting 250 ms");
    expect(text).toContain("waiting 50 ms");
    expect(text.endsWith(`${clear}${clear}next\n`)).toBe(true);
    expect(text).not.toContain("\n\r");
  });
});
