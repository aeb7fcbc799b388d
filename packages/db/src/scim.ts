import { createHash, randomBytes } from "node:crypto";
import { and, asc, count, desc, eq, gt, inArray, isNull, lt, or, type SQL, sql } from "drizzle-orm";
import { ttlCache } from "./cache.ts";
import { type Change, publishChange } from "./changes.ts";
import { connections, scimRequests, scimResources, scimTokens } from "./schema.ts";
import type { Database } from "./store.ts";
import { applyRecords, deleteRecords, type RecordChange, type SeenRecord } from "./syncs.ts";

export type ScimType = "User" | "Group";
export type ScimRow = typeof scimResources.$inferSelect;
export type ScimRequest = typeof scimRequests.$inferSelect;
export type NewScimRequest = Omit<typeof scimRequests.$inferInsert, "id">;

/** Another resource of the connection already has this userName (a User) or displayName (a Group). */
export class ScimNameTaken extends Error {}

/** The equality a list can be narrowed by in the database; anything else is filtered after reading. */
export interface ScimWhere {
  nameKey?: string | undefined;
  externalId?: string | undefined;
  id?: string | undefined;
  /** Any of the resource's emails has this value (ignoring case). */
  email?: string | undefined;
}

/**
 * Whether a row read by id alone is the connection's, of that type. Rows are read by id only, so
 * that the primary key is the one index the planner can use: with the connection and type in the
 * WHERE as well, a table not analyzed since it grew (a new directory's first push) had it walk
 * the connection's rows by another index (15-20 ms per lookup at 10,000 users).
 */
const ofConnection = (connectionId: string, type: ScimType) => (row: ScimRow | undefined) =>
  row !== undefined && row.connectionId === connectionId && row.type === type;
const hashOf = (token: string) => createHash("sha256").update(token).digest("hex");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The SCIM service's writes, inside one transaction with the copy they change. */
export interface ScimTransaction {
  /** The resource, locked until the transaction ends. */
  lock(connectionId: string, type: ScimType, id: string): Promise<ScimRow | undefined>;
  /** Inserts a resource made by the caller (id and times included); a name another resource holds throws ScimNameTaken. */
  insert(row: ScimRow): Promise<void>;
  update(id: string, change: { nameKey: string; externalId: string | null; body: Record<string, unknown> }): Promise<ScimRow>;
  remove(id: string): Promise<void>;
  /** The connection's groups that list this user among their members, locked until the transaction ends. */
  groupsWithMember(connectionId: string, userId: string): Promise<ScimRow[]>;
  /** Writes the unified forms into the copy; answers what changed. `fresh`: ids just made, not in the copy yet. */
  applyCopy(connectionId: string, resource: string, records: SeenRecord[], fresh?: boolean): Promise<RecordChange[]>;
  deleteCopy(connectionId: string, resource: string, remoteIds: string[]): Promise<RecordChange[]>;
  /** The transaction itself, for the events written with the change. */
  db: Database;
}

/** Whether a driver error (or what it wraps) carries this SQLSTATE, and this constraint when one is named. */
function hasCode(error: unknown, code: string, constraint?: string): boolean {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    const failed = e as { code?: unknown; constraint_name?: unknown };
    if (failed.code === code && (constraint === undefined || failed.constraint_name === constraint)) return true;
  }
  return false;
}
/** A write gave a resource a name another resource of its connection holds (the unique name index). */
const isNameTaken = (error: unknown) => hasCode(error, "23505", "scim_resources_name_idx");

export function scimStore(db: Database, options: { cacheTtlMs?: number } = {}) {
  // Tokens by the hash of their secret: every SCIM request authenticates, and a push is hundreds a second.
  const tokens = ttlCache<{ connectionId: string; expiresAt: Date | null } | undefined>(options.cacheTtlMs ?? 0);
  return {
    /**
     * A new token for the connection, answered once (only its hash is kept). Tokens it replaces
     * keep working for `overlapSeconds` (0: they stop now).
     */
    async issueToken(connectionId: string, overlapSeconds = 0): Promise<string> {
      const token = `scim_${randomBytes(32).toString("base64url")}`;
      const until = new Date(Date.now() + overlapSeconds * 1000);
      await db.transaction(async (tx) => {
        await tx
          .update(scimTokens)
          .set({ expiresAt: until })
          .where(and(eq(scimTokens.connectionId, connectionId), or(isNull(scimTokens.expiresAt), gt(scimTokens.expiresAt, until))));
        await tx.insert(scimTokens).values({ connectionId, tokenHash: hashOf(token) });
      });
      // After the write: the tokens it shortened stop at their new time on every instance.
      tokens.clear();
      await publishChange(db, { kind: "scim_tokens" });
      return token;
    },

    /** Drops what another instance changed (announced on the change channel), or everything. */
    forget(change?: Change) {
      if (change === undefined || change.kind === "scim_tokens") tokens.clear();
    },

    /** The connection a token pushes to, while the token is valid. */
    async authenticate(token: string): Promise<string | undefined> {
      // Looked up by its hash: the comparison is an index probe on a digest, never on the secret.
      const hash = hashOf(token);
      const row = await tokens.get(hash, async () => {
        const [found] = await db
          .select({ connectionId: scimTokens.connectionId, expiresAt: scimTokens.expiresAt })
          .from(scimTokens)
          .where(eq(scimTokens.tokenHash, hash));
        return found;
      });
      if (!row || (row.expiresAt && row.expiresAt.getTime() <= Date.now())) return undefined;
      return row.connectionId;
    },

    /**
     * Marks a push connection reached by its provider for the first time (its last_verified_at),
     * running `onFirst` in the same transaction; later calls change nothing.
     */
    async activate(connectionId: string, onFirst: (tx: Database) => Promise<void>): Promise<boolean> {
      return db.transaction(async (raw) => {
        const tx = raw as unknown as Database;
        const [first] = await tx
          .update(connections)
          .set({ lastVerifiedAt: new Date() })
          .where(and(eq(connections.id, connectionId), isNull(connections.lastVerifiedAt)))
          .returning({ id: connections.id });
        if (first) await onFirst(tx);
        return first !== undefined;
      });
    },

    /**
     * When the connection's provider first called (its last_verified_at), read from the table
     * rather than a cached connection: the connect page waits for it. Null until then; undefined
     * when there is no such connection.
     */
    async activatedAt(connectionId: string): Promise<Date | null | undefined> {
      const [row] = await db.select({ at: connections.lastVerifiedAt }).from(connections).where(eq(connections.id, connectionId));
      return row ? row.at : undefined;
    },

    async get(connectionId: string, type: ScimType, id: string): Promise<ScimRow | undefined> {
      if (!UUID.test(id)) return undefined;
      const [row] = await db.select().from(scimResources).where(eq(scimResources.id, id));
      return ofConnection(connectionId, type)(row) ? row : undefined;
    },

    /** The connection's resources of one type with these ids (those that exist). */
    async byIds(connectionId: string, type: ScimType, ids: string[]): Promise<ScimRow[]> {
      const valid = ids.filter((id) => UUID.test(id));
      if (!valid.length) return [];
      const rows = await db.select().from(scimResources).where(inArray(scimResources.id, valid));
      return rows.filter(ofConnection(connectionId, type));
    },

    /**
     * A page of a connection's resources in creation order (stable across pages), narrowed by
     * `where`; `total` counts every match. Without `limit`, every match (for filters applied after reading).
     */
    async list(
      connectionId: string,
      type: ScimType,
      options: { where?: ScimWhere | undefined; offset: number; limit?: number | undefined },
    ): Promise<{ rows: ScimRow[]; total: number }> {
      const where = options.where ?? {};
      if (where.id !== undefined && !UUID.test(where.id)) return { rows: [], total: 0 };
      const conditions: (SQL | undefined)[] = [
        eq(scimResources.connectionId, connectionId),
        eq(scimResources.type, type),
        where.nameKey === undefined ? undefined : eq(scimResources.nameKey, where.nameKey),
        where.externalId === undefined ? undefined : eq(scimResources.externalId, where.externalId),
        where.id === undefined ? undefined : eq(scimResources.id, where.id),
        where.email === undefined
          ? undefined
          : sql`exists (select 1 from jsonb_array_elements(case when jsonb_typeof(${scimResources.body}->'emails') = 'array' then ${scimResources.body}->'emails' else '[]'::jsonb end) e where lower(e->>'value') = lower(${where.email}))`,
      ];
      const [counted] = await db
        .select({ total: count() })
        .from(scimResources)
        .where(and(...conditions));
      let query = db
        .select()
        .from(scimResources)
        .where(and(...conditions))
        .orderBy(asc(scimResources.createdAt), asc(scimResources.id))
        .offset(options.offset)
        .$dynamic();
      if (options.limit !== undefined) query = query.limit(options.limit);
      return { rows: await query, total: counted?.total ?? 0 };
    },

    /**
     * Records requests of the log, in one statement. An entry whose connection is gone (deleted
     * meanwhile, or a made-up id in the URL) is left out: there is nothing to log it under.
     */
    async logRequests(entries: NewScimRequest[]): Promise<void> {
      const valid = entries.filter((entry) => UUID.test(entry.connectionId));
      if (!valid.length) return;
      try {
        await db.insert(scimRequests).values(valid);
      } catch (error) {
        if (!hasCode(error, "23503")) throw error;
        // Rare: some connection has gone. Each entry on its own, those of live connections kept.
        for (const entry of valid) {
          await db
            .insert(scimRequests)
            .values(entry)
            .catch((one: unknown) => {
              if (!hasCode(one, "23503")) throw one;
            });
        }
      }
    },

    /** A connection's request log, newest first, after the `before` id of the previous page. */
    async requests(
      connectionId: string,
      page: { before?: number | undefined; limit: number },
    ): Promise<{ rows: ScimRequest[]; more: boolean }> {
      const rows = await db
        .select()
        .from(scimRequests)
        .where(and(eq(scimRequests.connectionId, connectionId), page.before === undefined ? undefined : lt(scimRequests.id, page.before)))
        .orderBy(desc(scimRequests.id))
        .limit(page.limit + 1);
      return { rows: rows.slice(0, page.limit), more: rows.length > page.limit };
    },

    /** Drops log entries older than `before` (the retention job). */
    async pruneRequests(before: Date): Promise<number> {
      const gone = await db.delete(scimRequests).where(lt(scimRequests.at, before)).returning({ id: scimRequests.id });
      return gone.length;
    },

    /** Runs SCIM writes and the copy's changes in one transaction. */
    async transaction<T>(work: (tx: ScimTransaction) => Promise<T>): Promise<T> {
      return transactionOf(work).catch((error: unknown) => {
        if (isNameTaken(error)) throw new ScimNameTaken();
        throw error;
      });
    },
  };

  /** Runs SCIM writes and the copy's changes in one transaction. */
  function transactionOf<T>(work: (tx: ScimTransaction) => Promise<T>): Promise<T> {
    return db.transaction(async (raw) => {
      const tx = raw as unknown as Database;
      return work({
        db: tx,
        async lock(connectionId, type, id) {
          if (!UUID.test(id)) return undefined;
          // Another connection's row is locked too, until this transaction ends, and then not used.
          const [row] = await tx.select().from(scimResources).where(eq(scimResources.id, id)).for("update");
          return ofConnection(connectionId, type)(row) ? row : undefined;
        },
        async insert(row) {
          // A name another resource holds inserts nothing (no savepoint needed): a concurrent
          // create of the same name waits for the other's commit, then finds it taken.
          const made = await tx.insert(scimResources).values(row).onConflictDoNothing().returning({ id: scimResources.id });
          if (!made.length) throw new ScimNameTaken();
        },
        async update(id, change) {
          // No savepoint: a name another resource holds fails the statement, and with it the
          // whole transaction, which is refused as a whole (below) — nothing in it is kept.
          const [row] = await tx
            .update(scimResources)
            .set({ ...change, version: sql`${scimResources.version} + 1`, modifiedAt: new Date() })
            .where(eq(scimResources.id, id))
            .returning();
          return row!;
        },
        async groupsWithMember(connectionId, userId) {
          return tx
            .select()
            .from(scimResources)
            .where(
              and(
                eq(scimResources.connectionId, connectionId),
                eq(scimResources.type, "Group"),
                sql`${scimResources.body}->'members' @> ${JSON.stringify([{ value: userId }])}::jsonb`,
              ),
            )
            .orderBy(asc(scimResources.id))
            .for("update");
        },
        async remove(id) {
          await tx.delete(scimResources).where(eq(scimResources.id, id));
        },
        async applyCopy(connectionId, resource, records, fresh) {
          return (await applyRecords(tx, { connectionId, resource, runId: connectionId }, records, fresh)).changes;
        },
        deleteCopy: (connectionId, resource, remoteIds) => deleteRecords(tx, { connectionId, resource }, remoteIds),
      });
    });
  }
}

export type ScimStore = ReturnType<typeof scimStore>;
