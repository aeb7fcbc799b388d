/** A column of a table: its heading and how to read a row's cell. */
export interface Column<T> {
  heading: string;
  cell: (row: T) => unknown;
}

/** Plain aligned columns, like `kubectl get`: readable in a terminal and with `grep`/`awk`. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = [columns.map((column) => column.heading), ...rows.map((row) => columns.map((column) => show(column.cell(row))))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => (line[i] ?? "").length)));
  return (
    cells.map((line) => line.map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  ")).join("\n") + "\n"
  );
}

/** One object as `field: value` lines, fields in the given order. */
export function record(value: Record<string, unknown>, fields: readonly string[] = Object.keys(value)): string {
  const width = Math.max(...fields.map((field) => field.length)) + 1;
  return fields.map((field) => `${`${field}:`.padEnd(width)} ${show(value[field])}`).join("\n") + "\n";
}

function show(value: unknown): string {
  if (value === null || value === undefined || value === "") return "-";
  if (Array.isArray(value)) return value.length ? value.map(show).join(", ") : "-";
  if (typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== null && v !== undefined);
    return entries.length ? entries.map(([k, v]) => `${k}=${show(v)}`).join(" ") : "-";
  }
  return String(value);
}
