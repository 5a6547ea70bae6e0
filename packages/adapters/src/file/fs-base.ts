/**
 * The base of the file adapters' plumbing, with no dependency beyond Node: file modes, the `Warn` callback the
 * primitives report repairs through, the `FsProblem` they raise for a refusal or a known problem, and `errorCode`.
 * The bridge to Effect (`StoreFailure`, `runFs`) is fs-effect.ts. Messages name paths and error codes, never file
 * contents.
 */
import type { StoreFailure } from "@baton/core";

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

/** Collects warnings inside the primitives; fs-effect.ts's `runFs` logs them with `Effect.logWarning`. */
export type Warn = (message: string) => void;

/** A refusal or a known problem raised inside the primitives, turned into a `StoreFailure` as is. */
export class FsProblem extends Error {
  readonly reason: StoreFailure["reason"];
  readonly path: string;
  constructor(reason: StoreFailure["reason"], message: string, path: string) {
    super(message);
    this.reason = reason;
    this.path = path;
  }
}

export const errorCode = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined;
