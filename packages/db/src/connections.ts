import { randomUUID } from "node:crypto";
import { and, asc, count, eq, inArray, isNotNull, ne } from "drizzle-orm";
import { type ConnectionStatus, connections, events, syncRecords } from "./schema.ts";
import type { Database } from "./store.ts";
import { ttlCache } from "./cache.ts";
import { type Change, publishChange } from "./changes.ts";
import type { Credentials, Vault } from "./vault.ts";
import { equalsIfGiven, isUuid, type Keyset, listPage, type Page } from "./paging.ts";

/** What deleting a connection erased of its directory. */
export interface Erasure {
  connection: Pick<Connection, "id" | "tenantId" | "integration">;
  /** Rows of its synced copy (records and tombstones). */
  records: number;
  /** Its record events (every event with a record version: user.*, group.*, group_member.*, …). */
  events: number;
}

export interface Connection {
  id: string;
  tenantId: string;
  integration: string;
  name: string | null;
  status: ConnectionStatus;
  config: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
  lastVerifiedAt: Date | null;
  /** Which upstream account it opens, as a one-way hash (see the column); never shown. */
  accountRef: string | null;
}

const visible = {
  id: connections.id,
  tenantId: connections.tenantId,
  integration: connections.integration,
  name: connections.name,
  status: connections.status,
  config: connections.config,
  createdAt: connections.createdAt,
  updatedAt: connections.updatedAt,
  lastVerifiedAt: connections.lastVerifiedAt,
  accountRef: connections.accountRef,
};

export function connectionStore(db: Database, vault: Vault, options: { cacheTtlMs?: number } = {}) {
  const cache = ttlCache<{ connection: Connection; sealed: string } | undefined>(options.cacheTtlMs ?? 0);
  return {
    async create(input: {
      tenantId: string;
      integration: string;
      name?: string | null;
      config: Record<string, unknown>;
      credentials: Credentials;
      status?: ConnectionStatus;
      verifiedAt?: Date | null;
      accountRef?: string | null;
    }): Promise<Connection> {
      const id = randomUUID();
      const sealed = await vault.seal(id, input.credentials);
      const [row] = await db
        .insert(connections)
        .values({
          id,
          tenantId: input.tenantId,
          integration: input.integration,
          name: input.name ?? null,
          config: input.config,
          status: input.status ?? "active",
          credentials: sealed,
          credentialsKid: vault.currentKid,
          lastVerifiedAt: input.verifiedAt ?? null,
          accountRef: input.accountRef ?? null,
        })
        .returning(visible);
      return row as Connection;
    },

    async get(id: string): Promise<Connection | undefined> {
      if (!isUuid(id)) return undefined;
      const [row] = await db.select(visible).from(connections).where(eq(connections.id, id));
      return row;
    },

    /** The tenant's oldest connection to this upstream account (see `accountRef`), if any. */
    async findByAccount(tenantId: string, accountRef: string): Promise<Connection | undefined> {
      const [row] = await db
        .select(visible)
        .from(connections)
        .where(and(eq(connections.tenantId, tenantId), eq(connections.accountRef, accountRef)))
        .orderBy(asc(connections.createdAt), asc(connections.id))
        .limit(1);
      return row;
    },

    async list(filter: {
      tenantId?: string | undefined;
      integration?: string | undefined;
      status?: ConnectionStatus | undefined;
      after?: Keyset | undefined;
      limit: number;
    }): Promise<Page<Connection>> {
      const conditions = [
        equalsIfGiven(connections.tenantId, filter.tenantId),
        equalsIfGiven(connections.integration, filter.integration),
        equalsIfGiven(connections.status, filter.status),
      ];
      return listPage(connections, filter, conditions, (q) =>
        db
          .select(visible)
          .from(connections)
          .where(q.where)
          .orderBy(...q.orderBy)
          .limit(q.limit),
      );
    },

    async update(
      id: string,
      patch: {
        name?: string | null | undefined;
        config?: Record<string, unknown> | undefined;
        credentials?: Credentials | undefined;
        status?: ConnectionStatus | undefined;
        lastVerifiedAt?: Date | undefined;
        accountRef?: string | null | undefined;
      },
    ): Promise<Connection | undefined> {
      if (!isUuid(id)) return undefined;
      const sealed = patch.credentials ? await vault.seal(id, patch.credentials) : undefined;
      const [row] = await db
        .update(connections)
        .set({
          ...(patch.name !== undefined && { name: patch.name }),
          ...(patch.config !== undefined && { config: patch.config }),
          ...(patch.status !== undefined && { status: patch.status }),
          ...(patch.lastVerifiedAt !== undefined && { lastVerifiedAt: patch.lastVerifiedAt }),
          ...(sealed !== undefined && { credentials: sealed, credentialsKid: vault.currentKid }),
          ...(patch.accountRef !== undefined && { accountRef: patch.accountRef }),
          updatedAt: new Date(),
        })
        .where(eq(connections.id, id))
        .returning(visible);
      // After the write: a read racing it may have loaded the row as it was; it is not kept.
      cache.delete(id);
      if (row) await publishChange(db, { kind: "connection", id });
      return row;
    },

    /**
     * Deletes a connection and erases what the gateway keeps of its directory, in one transaction:
     * its synced copy (the foreign key's cascade) and its record events, which hold people's data.
     * Lifecycle events (sync.*, connection.*) stay. `then` runs in the same transaction, so the
     * caller can record the deletion there.
     */
    async remove(id: string, then?: (tx: Database, erased: Erasure) => Promise<void>): Promise<Erasure | undefined> {
      if (!isUuid(id)) return undefined;
      const erased = await db.transaction(async (tx) => {
        // The row locked first: that waits for any sync page being written, and a later page's
        // insert then fails its foreign key, so no record event can be written after the erasure.
        const [row] = await tx
          .select({ id: connections.id, tenantId: connections.tenantId, integration: connections.integration })
          .from(connections)
          .where(eq(connections.id, id))
          .for("update");
        if (!row) return undefined;
        const [copied] = await tx.select({ n: count() }).from(syncRecords).where(eq(syncRecords.connectionId, id));
        // The synced copy, syncs and their runs go with it (foreign keys on delete cascade).
        await tx.delete(connections).where(eq(connections.id, id));
        const gone = await tx
          .delete(events)
          .where(and(eq(events.connectionId, id), isNotNull(events.version)))
          .returning({ seq: events.seq });
        const erasure: Erasure = { connection: row, records: copied?.n ?? 0, events: gone.length };
        await then?.(tx as unknown as Database, erasure);
        return erasure;
      });
      cache.delete(id);
      if (erased) await publishChange(db, { kind: "connection", id });
      return erased;
    },

    /**
     * The connection and its sealed credentials in one read: what every upstream call needs.
     * Served from the read cache (credentials stay encrypted there).
     */
    async getSealed(id: string): Promise<{ connection: Connection; sealed: string } | undefined> {
      if (!isUuid(id)) return undefined;
      return cache.get(id, async () => {
        const [row] = await db
          .select({ ...visible, sealed: connections.credentials })
          .from(connections)
          .where(eq(connections.id, id));
        if (!row) return undefined;
        const { sealed, ...connection } = row;
        return { connection, sealed };
      });
    },

    /** Drops what another instance changed (announced on the change channel), or everything. */
    forget(change?: Change) {
      if (change?.kind === "connection") cache.delete(change.id);
      else if (change === undefined || change.kind === "connections") cache.clear();
    },

    /** Decrypts credentials read by `getSealed`; the caller keeps them only as long as one upstream call. */
    open(id: string, sealed: string): Promise<Credentials> {
      return vault.open(id, sealed);
    },

    /** How many connections each key seals: the ring's keys (current first), then any key missing from the ring. */
    async keyUsage(): Promise<{ kid: string; connections: number; current: boolean; inRing: boolean }[]> {
      const rows = await db
        .select({ kid: connections.credentialsKid, count: count() })
        .from(connections)
        .groupBy(connections.credentialsKid);
      const counts = new Map(rows.map((row) => [row.kid, row.count]));
      const missing = [...counts.keys()].filter((kid) => !vault.kids.includes(kid)).sort();
      return [...vault.kids, ...missing].map((kid) => ({
        kid,
        connections: counts.get(kid) ?? 0,
        current: kid === vault.currentKid,
        inRing: vault.kids.includes(kid),
      }));
    },

    /** Re-seals every credential not under the current key (see `rotateCredentials`). */
    async rotate(options: { batchSize?: number } = {}): Promise<{ rotated: number }> {
      const result = await rotateCredentials(db, vault, options);
      // Cached entries hold the old ciphertext; it still opens, but the next read should see the new one.
      cache.clear();
      return result;
    },

    async credentials(id: string): Promise<Credentials> {
      const [row] = await db.select({ credentials: connections.credentials }).from(connections).where(eq(connections.id, id));
      if (!row) throw new Error(`connection ${id} does not exist`);
      return vault.open(id, row.credentials);
    },
  };
}

export type ConnectionStore = ReturnType<typeof connectionStore>;

/**
 * Re-encrypts every credential not sealed with the current key, a batch at a time.
 * Safe to re-run and to run while the gateway serves: each row is replaced only if it still
 * holds the ciphertext that was read, so a concurrent credential change is never overwritten.
 */
export async function rotateCredentials(
  db: Database,
  vault: Vault,
  options: { batchSize?: number; onBatch?: (done: number) => void } = {},
): Promise<{ rotated: number }> {
  const batchSize = options.batchSize ?? 100;
  let rotated = 0;
  for (;;) {
    const batch = await db
      .select({ id: connections.id, credentials: connections.credentials })
      .from(connections)
      // A key missing from the ring cannot open its rows; they are left for keyUsage() to report.
      .where(and(ne(connections.credentialsKid, vault.currentKid), inArray(connections.credentialsKid, [...vault.kids])))
      .orderBy(asc(connections.id))
      .limit(batchSize);
    if (batch.length === 0) {
      // Running gateways drop the old ciphertext they cached (it still opens; this keeps them current).
      if (rotated) await publishChange(db, { kind: "connections" });
      return { rotated };
    }
    for (const row of batch) {
      const sealed = await vault.seal(row.id, await vault.open(row.id, row.credentials));
      const updated = await db
        .update(connections)
        .set({ credentials: sealed, credentialsKid: vault.currentKid })
        .where(and(eq(connections.id, row.id), eq(connections.credentials, row.credentials)))
        .returning({ id: connections.id });
      rotated += updated.length;
    }
    options.onBatch?.(rotated);
  }
}
