/**
 * Human output helpers: relative and absolute times, aligned tables, and colour only on a TTY without NO_COLOR.
 * Table columns are measured on what a terminal shows: colour codes take no width.
 */
import { stripVTControlCharacters } from "node:util";

export const relativeTime = (at: number, now: number): string => {
  const delta = Math.round((at - now) / 1000);
  if (delta === 0) return "now";
  const abs = Math.abs(delta);
  const text =
    abs < 60
      ? `${abs}s`
      : abs < 3600
        ? `${Math.round(abs / 60)}m`
        : abs < 86_400
          ? `${Math.round(abs / 3600)}h`
          : `${Math.round(abs / 86_400)}d`;
  return delta >= 0 ? `in ${text}` : `${text} ago`;
};

/** ISO 8601 in UTC; a time no date can hold (a damaged record) is shown as such instead of failing the command. */
export const absoluteTime = (at: number): string => {
  const date = new Date(at);
  return Number.isNaN(date.getTime()) ? "(out of range)" : date.toISOString().replace(".000Z", "Z");
};

/** The number of characters `text` occupies on a terminal: ANSI escape sequences (colours) take none. */
export const visibleWidth = (text: string): number => stripVTControlCharacters(text).length;

const padVisible = (text: string, width: number): string => text + " ".repeat(Math.max(0, width - visibleWidth(text)));

export const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = headers.map((h, i) => Math.max(visibleWidth(h), ...rows.map((r) => visibleWidth(r[i] ?? ""))));
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, i) => padVisible(c, widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
};

const codes = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const;
export const paint = (color: boolean, style: keyof typeof codes, text: string): string =>
  color ? `\u001b[${codes[style]}m${text}\u001b[0m` : text;
