/**
 * What a herd round leaves behind, shared by the one-shot rounds (herd-suite.mjs) and the warm herd (herd-warm.mjs):
 * the server's counters between two snapshots and baton's own event log.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { accountDir } from "./account.mjs";

export const counterDelta = (before, after) => ({
  refreshGrants: after.refreshGrants - before.refreshGrants,
  reuseErrors: after.reuseErrors - before.reuseErrors,
  grantsRevoked: after.grantsRevoked - before.grantsRevoked,
  tokenRequests: after.tokenRequests - before.tokenRequests,
});

/** baton's event log as parsed records (the log is `<crc32> <json>` per line; see event-log.ts). */
export const readEvents = async (home) => {
  const text = await readFile(join(accountDir(home), "events.log"), "utf8").catch(() => "");
  const events = [];
  for (const line of text.split("\n")) {
    if (line.length < 10) continue;
    try {
      events.push(JSON.parse(line.slice(9)));
    } catch {
      events.push({ type: "unparsable" });
    }
  }
  return events;
};

export const eventCounts = (events) => {
  const counts = {};
  for (const { type } of events) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
};
