/**
 * The one import point of the file adapters' plumbing: BATON_HOME's layout and secure reads (home-files.ts), the
 * base types and errors (fs-base.ts), the careful reads and writes (secure-read.ts, secure-write.ts), their bridge to
 * Effect (fs-effect.ts) and the quarantine (quarantine.ts).
 */
export * from "./fs-base.ts";
export * from "./fs-effect.ts";
export * from "./home-files.ts";
export * from "./quarantine.ts";
export * from "./secure-read.ts";
export * from "./secure-write.ts";
