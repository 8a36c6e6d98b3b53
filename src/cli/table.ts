import { plainText } from "../engine/plain-text.js";

/** Prints rows under a header, in columns; what the database holds is shown without control characters. */
export function table(header: string[], rows: string[][], out: (line: string) => void): void {
  const cells = rows.map((row) => row.map((cell) => plainText(cell, { oneLine: true })));
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((row) => row[column].length)));
  for (const row of [header, ...cells]) out(row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]))).join("  "));
}

/** A time as the CLI shows it: UTC, to the second; a dash for none. */
export function dateTime(date: Date | null): string {
  return date ? date.toISOString().slice(0, 19).replace("T", " ") : "—";
}
