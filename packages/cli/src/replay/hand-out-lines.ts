/**
 * A broker's hand-outs in `baton replay`: who borrowed which access token (fingerprint) of which generation, when —
 * read from the account's diagnostic notes — as JSON records and as timeline lines placed among the events by time.
 */
import type { AccountRef, HandOutNote } from "@baton/core";
import { EventStore } from "@baton/core";
import { Effect } from "effect";
import { absoluteTime } from "../format.ts";

/** The account's hand-outs, oldest first (an unreadable notes file counts as none: they are diagnostics). */
export const handOutsOf = (account: AccountRef) =>
  EventStore.use((events) => events.notes(account)).pipe(
    Effect.map((notes) => notes.filter((note): note is HandOutNote => note.kind === "hand-out")),
    Effect.orElseSucceed((): ReadonlyArray<HandOutNote> => []),
  );

export const describeHandOut = (note: HandOutNote): string =>
  `${absoluteTime(note.at)} ${note.host}:${note.pid}  lent generation ${note.generation} (access ${note.accessFp}, ` +
  `expires ${absoluteTime(note.expiresAt)}) to ${note.client}`;

/**
 * The timeline's lines with the hand-outs merged in: each hand-out right after the last event recorded at or before
 * it. `events` are the events' times and lines, in order.
 */
export const withHandOuts = (
  events: ReadonlyArray<{ readonly at: number; readonly line: string }>,
  handOuts: ReadonlyArray<HandOutNote>,
): ReadonlyArray<string> => {
  const lines: Array<string> = [];
  const pending = [...handOuts];
  const flushUntil = (at: number) => {
    for (let note = pending[0]; note !== undefined && note.at < at; note = pending[0]) {
      lines.push(`  ~ ${describeHandOut(note)}`);
      pending.shift();
    }
  };
  for (const event of events) {
    flushUntil(event.at);
    lines.push(event.line);
  }
  flushUntil(Number.POSITIVE_INFINITY);
  return lines;
};
