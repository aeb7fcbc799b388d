import { and, asc, eq, gt, or, type SQL } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";

/** Where a keyset page starts: the last row of the previous page. */
export interface Keyset {
  createdAt: Date;
  id: string;
}

export interface Page<T> {
  rows: T[];
  /** Set when more rows follow the last one returned. */
  next: Keyset | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Ids come from URLs; anything that is not a uuid simply matches nothing. */
export const isUuid = (id: string) => UUID.test(id);

export function keysetAfter(column: { createdAt: AnyPgColumn; id: AnyPgColumn }, after: Keyset): SQL {
  return or(gt(column.createdAt, after.createdAt), and(eq(column.createdAt, after.createdAt), gt(column.id, after.id))) as SQL;
}

/** A page from rows read with one extra: the extra one only says that more follow. */
export function toPage<T extends Keyset>(rows: T[], limit: number): Page<T> {
  if (rows.length <= limit) return { rows, next: null };
  const page = rows.slice(0, limit);
  const last = page[page.length - 1] as T;
  return { rows: page, next: { createdAt: last.createdAt, id: last.id } };
}

/** An equality condition that is left out when the value is not given (`undefined`). */
export const equalsIfGiven = (column: AnyPgColumn, value: unknown): SQL | undefined =>
  value === undefined ? undefined : eq(column, value);

/**
 * One page of a table in creation order: the rows after `filter.after` that meet `conditions`
 * (an undefined one is left out). `select` runs the query the table's store shapes.
 */
export async function listPage<T extends Keyset>(
  table: { createdAt: AnyPgColumn; id: AnyPgColumn },
  filter: { after?: Keyset | undefined; limit: number },
  conditions: (SQL | undefined)[],
  select: (query: { where: SQL | undefined; orderBy: SQL[]; limit: number }) => Promise<T[]>,
): Promise<Page<T>> {
  const where = and(...conditions, filter.after && keysetAfter(table, filter.after));
  const rows = await select({ where, orderBy: [asc(table.createdAt), asc(table.id)], limit: filter.limit + 1 });
  return toPage(rows, filter.limit);
}
