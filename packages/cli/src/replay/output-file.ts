/**
 * Writing a picture file (`replay --trace FILE`, `--html FILE`, the demo's replay): atomically, 0600 (a replay names
 * machines, processes and times), never through a symbolic link, an existing file replaced — the secret store's own
 * primitive. A file that cannot be written is invalid input naming the flag and the reason (exit 2).
 */
import { SecureFiles } from "@baton/adapters";
import { InvalidInput } from "@baton/core";
import { Effect } from "effect";

const reasonOf = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "code" in error) return String(error.code);
  return error instanceof Error ? error.message : String(error);
};

export const writePictureFile = (flag: string, path: string, text: string) =>
  Effect.tryPromise({
    try: () => SecureFiles.replaceAtomically(path, text),
    catch: (error) =>
      new InvalidInput({ reason: "argument", message: `${flag}: could not write ${path} (${reasonOf(error)})` }),
  });
