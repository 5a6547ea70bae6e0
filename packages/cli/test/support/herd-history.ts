/**
 * Synthetic account histories for the replay pictures' unit tests: the events and flight notes a herd leaves (a
 * login, then N processes finding the token expired: one holder claims, requests and commits generation 2, the others
 * wait and adopt it), and pieces to add faults to them. Times are milliseconds from a fixed origin.
 */
import type { AccountEvent, DiagnosticNote, FlightNote } from "@baton/core";
import { findAnomalies, summarize } from "../../src/timeline.ts";

/** An event as a test writes it: the store numbers it, the host defaults to {@link HOST}. */
type EventFields = AccountEvent extends infer E
  ? E extends AccountEvent
    ? Omit<E, "v" | "seq" | "host"> & { readonly host?: string }
    : never
  : never;

export const T0 = 1_800_000_000_000;
export const HOST = "build-3";

export class HistoryBuilder {
  readonly events: Array<AccountEvent> = [];
  readonly notes: Array<DiagnosticNote> = [];
  private seq = 0;

  event(fields: EventFields): this {
    this.events.push({ v: 1, seq: ++this.seq, host: HOST, ...fields } as AccountEvent);
    return this;
  }

  flight(fields: Omit<FlightNote, "v" | "kind" | "host"> & { readonly host?: string }): this {
    this.notes.push({ v: 1, kind: "flight", host: HOST, ...fields });
    return this;
  }

  /** What `replay` gives the picture builder. */
  input(account = "demo:you") {
    return {
      account,
      state: "valid",
      summary: summarize(this.events),
      anomalies: findAnomalies(this.events),
      events: this.events,
      notes: this.notes,
    };
  }
}

export const HOLDER_PID = 200;

/** A login at T0, then a herd of `processes` at T0 + 10 s: pid 200 refreshes, pids 201… wait and adopt. */
export const herdHistory = (processes: number): HistoryBuilder => {
  const start = T0 + 10_000;
  const history = new HistoryBuilder().event({
    type: "credentials.stored",
    at: T0,
    pid: 100,
    generation: 1,
    source: "login",
    accessFp: "aaaaaaaa",
    refreshFp: "11111111",
    expiresAt: T0 + 6_000,
  });
  history
    .event({
      type: "refresh.claimed",
      at: start + 10,
      pid: HOLDER_PID,
      generation: 1,
      attempt: 1,
      refreshFp: "11111111",
    })
    .event({
      type: "credentials.stored",
      at: start + 115,
      pid: HOLDER_PID,
      generation: 2,
      source: "refresh",
      accessFp: "bbbbbbbb",
      refreshFp: "22222222",
      expiresAt: start + 6_115,
    })
    .flight({
      pid: HOLDER_PID,
      startedAt: start,
      endedAt: start + 118,
      outcome: "refreshed",
      generation: 2,
      sentAt: start + 12,
      answeredAt: start + 112,
    });
  for (let i = 1; i < processes; i++) {
    history.flight({
      pid: HOLDER_PID + i,
      startedAt: start + i,
      endedAt: start + 116 + (i % 4),
      outcome: "adopted",
      generation: 2,
      waitedFrom: start + 3 + i,
      waitedUntil: start + 113 + (i % 3),
    });
  }
  return history;
};
