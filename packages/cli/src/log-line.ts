/**
 * The shape of baton's log lines on stderr, shared by the CLI's logger (composition.ts) and the `baton token` fast
 * path (fast-token.ts), which logs without loading Effect: `baton: warning: …` normally; with debugging on, every
 * line is time-stamped (`baton 2026-11-23T08:00:00.000Z debug: …`). Log messages never contain secrets (I8).
 */
export const logLine = (level: string, text: string, debugAt: Date | undefined): string =>
  debugAt === undefined
    ? `baton: ${level === "warn" ? "warning" : level}: ${text}\n`
    : `baton ${debugAt.toISOString()} ${level}: ${text}\n`;
