/**
 * Reading a small request from stdin (the credential helpers' protocols): the whole text up to a size limit, or an
 * empty text when stdin is a terminal or closed. A larger input is an `InvalidInput` (exit 2), never a crash.
 */
import { InvalidInput } from "@baton/core";
import { Effect } from "effect";

/** Credential helper requests are a few lines. */
export const HELPER_INPUT_LIMIT = 64 * 1024;

export const readStdinText = (limit = HELPER_INPUT_LIMIT): Effect.Effect<string, InvalidInput> =>
  Effect.callback<string, InvalidInput>((resume) => {
    if (process.stdin.isTTY === true) {
      resume(Effect.succeed(""));
      return;
    }
    const chunks: Array<Buffer> = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        process.stdin.destroy();
        resume(Effect.fail(new InvalidInput({ reason: "argument", message: `stdin: more than ${limit} bytes` })));
      } else chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resume(Effect.succeed(Buffer.concat(chunks).toString("utf8")));
    };
    const onError = () => {
      cleanup();
      resume(Effect.succeed(Buffer.concat(chunks).toString("utf8")));
    };
    const cleanup = () => {
      process.stdin.off("data", onData);
      process.stdin.off("end", onEnd);
      process.stdin.off("error", onError);
    };
    process.stdin.on("data", onData);
    process.stdin.on("end", onEnd);
    process.stdin.on("error", onError);
  });
