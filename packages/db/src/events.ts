import { randomUUID } from "node:crypto";
import { and, asc, eq, gt, inArray, isNull, lt, type SQL, sql } from "drizzle-orm";
import { events, webhookEndpoints } from "./schema.ts";
import type { Database } from "./store.ts";

export interface EventRow {
  seq: number;
  id: string;
  tenantId: string;
  connectionId: string | null;
  integration: string | null;
  type: string;
  version: number | null;
  data: Record<string, unknown>;
  createdAt: Date;
}

export type NewEvent = Omit<EventRow, "seq" | "createdAt" | "id"> & { id?: string };

/** An event whose deliveries are to be queued, as a dispatch sees it: `endpointId` is its data's `endpoint_id`, if any. */
export interface PendingEvent {
  seq: number;
  id: string;
  tenantId: string;
  type: string;
  endpointId: string | null;
}

/** An appended event, and whether its deliveries are still to be queued (its tenant has an enabled endpoint). */
export type AppendedEvent = EventRow & { pending: boolean };

/**
 * An event whose tenant has no enabled webhook endpoint has nothing to deliver: it is written
 * dispatched already, so no dispatch runs for it and the outbox's index never holds it. The
 * check is part of the INSERT (no round trip of its own) and sees every endpoint committed before
 * it; an endpoint created later receives later events. A test event names its endpoint itself.
 */
const dispatchedUnlessSubscribed = (row: NewEvent) =>
  row.type === "webhook_endpoint.test"
    ? null
    : sql`case when exists (select 1 from ${webhookEndpoints} where ${webhookEndpoints.tenantId} = ${row.tenantId} and ${webhookEndpoints.enabled}) then null else now() end`;

/** The event log: appended by syncs (in the transaction that records the change), paged by `seq`. */
export function eventStore(db: Database) {
  return {
    async append(tx: Database, rows: NewEvent[]): Promise<AppendedEvent[]> {
      if (rows.length === 0) return [];
      const given = rows.map((row) => ({ ...row, id: row.id ?? `evt_${randomUUID().replaceAll("-", "")}` }));
      // Only what the database adds comes back: the objects are the caller's already (a sync's
      // page of events is hundreds of kilobytes, not worth sending back and parsing again).
      const made = await tx
        .insert(events)
        .values(given.map((row) => ({ ...row, dispatchedAt: dispatchedUnlessSubscribed(row) })))
        .returning({ id: events.id, seq: events.seq, createdAt: events.createdAt, dispatchedAt: events.dispatchedAt });
      const added = new Map(made.map((row) => [row.id, row]));
      return given.map((row) => {
        const { seq, createdAt, dispatchedAt } = added.get(row.id)!;
        return { ...row, seq, createdAt, pending: dispatchedAt === null };
      });
    },

    /**
     * Hands events whose deliveries are not queued yet to `queue`, a batch at a time, and marks
     * them dispatched after it returns: a crash in between dispatches them again (at least once;
     * receivers de-duplicate by id). With `lock` (a Postgres server), the batch's rows stay locked
     * meanwhile, so concurrent dispatchers on other instances take other events (skip locked).
     * Without it (the embedded database, one process, whose single connection a transaction
     * would hold while `queue` needs it), the caller keeps to one dispatch at a time. `room`,
     * asked before each batch, stops the dispatch early (the rest stays pending for the next).
     */
    async dispatch(
      queue: (rows: PendingEvent[]) => Promise<void>,
      options: { lock: boolean; batchSize?: number; room?: () => Promise<boolean> },
    ): Promise<number> {
      const batchSize = options.batchSize ?? 500;
      const pending = (tx: Database) => {
        // What a dispatch needs to address deliveries, not the objects.
        const query = tx
          .select({
            seq: events.seq,
            id: events.id,
            tenantId: events.tenantId,
            type: events.type,
            endpointId: sql<string | null>`${events.data}->>'endpoint_id'`,
          })
          .from(events)
          .where(isNull(events.dispatchedAt))
          .orderBy(asc(events.seq))
          .limit(batchSize);
        return (options.lock ? query.for("update", { skipLocked: true }) : query) as unknown as Promise<PendingEvent[]>;
      };
      const batch = async (tx: Database) => {
        const rows = await pending(tx);
        if (rows.length === 0) return 0;
        await queue(rows);
        await tx
          .update(events)
          .set({ dispatchedAt: new Date() })
          .where(
            inArray(
              events.seq,
              rows.map((r) => r.seq),
            ),
          );
        return rows.length;
      };
      let total = 0;
      for (;;) {
        if (options.room && !(await options.room())) return total;
        const done = options.lock ? await db.transaction((tx) => batch(tx as unknown as Database)) : await batch(db);
        total += done;
        if (done < batchSize) return total;
      }
    },

    async get(id: string): Promise<EventRow | undefined> {
      const [row] = await db.select().from(events).where(eq(events.id, id));
      return row as EventRow | undefined;
    },

    /** The events of these ids that still exist (in no particular order). */
    async getMany(ids: string[]): Promise<EventRow[]> {
      if (!ids.length) return [];
      return (await db.select().from(events).where(inArray(events.id, ids))) as EventRow[];
    },

    async list(filter: {
      tenantId?: string | undefined;
      afterSeq?: number | undefined;
      types?: string[] | undefined;
      connectionId?: string | undefined;
      limit: number;
    }): Promise<{ rows: EventRow[]; more: boolean }> {
      const where: (SQL | undefined)[] = [
        sql`${events.txId} < pg_snapshot_xmin(pg_current_snapshot())`,
        filter.tenantId === undefined ? undefined : eq(events.tenantId, filter.tenantId),
        filter.afterSeq === undefined ? undefined : gt(events.seq, filter.afterSeq),
        filter.types?.length ? inArray(events.type, filter.types) : undefined,
        filter.connectionId === undefined ? undefined : eq(events.connectionId, filter.connectionId),
      ];
      const rows = (await db
        .select()
        .from(events)
        .where(and(...where))
        .orderBy(asc(events.seq))
        .limit(filter.limit + 1)) as EventRow[];
      return { rows: rows.slice(0, filter.limit), more: rows.length > filter.limit };
    },

    /** Drops events older than the retention; returns how many. */
    async prune(olderThan: Date): Promise<number> {
      return (await db.delete(events).where(lt(events.createdAt, olderThan)).returning({ seq: events.seq })).length;
    },
  };
}

export type EventStore = ReturnType<typeof eventStore>;
