/**
 * Checks a Chrome Trace Event JSON file the way the viewers (ui.perfetto.dev, chrome://tracing) read it, and returns
 * every problem found as a readable line (none: a valid trace): the `traceEvents` array; each event's phase, pid and
 * tid, name and time in microseconds; metadata naming every process and thread used; complete slices (`X`) properly
 * nested on each thread (inside or after one another, never overlapping in part); counters with numeric values; and
 * flows whose start (`s`) and end (`f`, binding to the enclosing slice) pair up by id and fall inside slices of their
 * threads. Used by the unit tests of the trace renderer and by the replay tests on real herds.
 */

type Event = Readonly<Record<string, unknown>>;

const PHASES = new Set(["M", "X", "i", "C", "s", "f"]);
const METADATA = new Set(["process_name", "thread_name", "process_sort_index", "thread_sort_index", "process_labels"]);

const isInt = (value: unknown): value is number => typeof value === "number" && Number.isInteger(value);
const isTime = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value) && value >= 0;

export const traceProblems = (trace: unknown): Array<string> => {
  const problems: Array<string> = [];
  if (typeof trace !== "object" || trace === null || !Array.isArray((trace as { traceEvents?: unknown }).traceEvents))
    return ["no traceEvents array"];
  const events = (trace as { traceEvents: ReadonlyArray<Event> }).traceEvents;
  const processNames = new Set<number>();
  const threadNames = new Set<string>();
  const slices = new Map<string, Array<{ ts: number; end: number; name: string }>>();
  const flowStarts = new Map<unknown, Event>();
  const flowEnds = new Map<unknown, Event>();
  const used = new Set<string>();
  for (const [index, event] of events.entries()) {
    const where = `event ${index} (${String(event.ph)} ${String(event.name)})`;
    if (!PHASES.has(String(event.ph))) problems.push(`${where}: unknown phase`);
    if (!isInt(event.pid) || !isInt(event.tid)) problems.push(`${where}: pid and tid must be integers`);
    if (typeof event.name !== "string" || event.name === "") problems.push(`${where}: no name`);
    const thread = `${String(event.pid)}/${String(event.tid)}`;
    if (event.ph === "M") {
      if (!METADATA.has(String(event.name))) problems.push(`${where}: unknown metadata`);
      if (typeof event.args !== "object" || event.args === null) problems.push(`${where}: metadata without args`);
      if (event.name === "process_name") processNames.add(event.pid as number);
      if (event.name === "thread_name") threadNames.add(thread);
      continue;
    }
    if (!isTime(event.ts)) {
      problems.push(`${where}: ts must be microseconds ≥ 0`);
      continue;
    }
    used.add(thread);
    switch (event.ph) {
      case "X": {
        if (!isTime(event.dur)) problems.push(`${where}: dur must be ≥ 0`);
        const list = slices.get(thread) ?? [];
        list.push({ ts: event.ts, end: event.ts + Number(event.dur), name: String(event.name) });
        slices.set(thread, list);
        break;
      }
      case "i":
        if (!["t", "p", "g"].includes(String(event.s))) problems.push(`${where}: instant scope must be t, p or g`);
        break;
      case "C": {
        const args = event.args;
        if (typeof args !== "object" || args === null || Object.values(args).some((v) => typeof v !== "number"))
          problems.push(`${where}: counter args must be numbers`);
        break;
      }
      case "s":
        if (flowStarts.has(event.id)) problems.push(`${where}: flow id ${String(event.id)} starts twice`);
        flowStarts.set(event.id, event);
        break;
      case "f":
        if (event.bp !== "e") problems.push(`${where}: flow end should bind to its enclosing slice (bp "e")`);
        if (flowEnds.has(event.id)) problems.push(`${where}: flow id ${String(event.id)} ends twice`);
        flowEnds.set(event.id, event);
        break;
    }
  }
  for (const thread of used) {
    const [pid = "", tid = ""] = thread.split("/");
    if (!processNames.has(Number(pid))) problems.push(`pid ${pid} has no process_name`);
    if (tid !== "0" && !threadNames.has(thread)) problems.push(`thread ${thread} has no thread_name`);
  }
  for (const [thread, list] of slices) {
    const sorted = [...list].sort((a, b) => a.ts - b.ts || b.end - a.end);
    const open: Array<{ ts: number; end: number; name: string }> = [];
    for (const slice of sorted) {
      while (open.length > 0 && (open.at(-1)?.end ?? 0) <= slice.ts) open.pop();
      const parent = open.at(-1);
      if (parent !== undefined && slice.end > parent.end)
        problems.push(`thread ${thread}: "${slice.name}" overlaps "${parent.name}" in part`);
      open.push(slice);
    }
  }
  const enclosed = (event: Event) =>
    (slices.get(`${String(event.pid)}/${String(event.tid)}`) ?? []).some(
      (slice) => slice.ts <= Number(event.ts) && Number(event.ts) <= slice.end,
    );
  for (const [id, start] of flowStarts) {
    const end = flowEnds.get(id);
    if (end === undefined) {
      problems.push(`flow ${String(id)} has no end`);
      continue;
    }
    if (start.cat !== end.cat) problems.push(`flow ${String(id)}: start and end categories differ`);
    if (Number(end.ts) < Number(start.ts)) problems.push(`flow ${String(id)} ends before it starts`);
    if (!enclosed(start)) problems.push(`flow ${String(id)} starts outside any slice`);
    if (!enclosed(end)) problems.push(`flow ${String(id)} ends outside any slice`);
  }
  for (const id of flowEnds.keys()) if (!flowStarts.has(id)) problems.push(`flow ${String(id)} has no start`);
  return problems;
};
