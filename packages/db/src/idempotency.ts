import { and, eq, isNull, lt, sql } from "drizzle-orm";
import { idempotencyKeys } from "./schema.ts";
import type { Database } from "./store.ts";

const TTL_MS = 24 * 3600 * 1000;

export type Claim =
  | { state: "new" }
  | { state: "replay"; status: number; body: unknown }
  | { state: "in_progress" }
  | { state: "mismatch" }
  /** The key's earlier run never finished (its process died, or its answer was never stored): it may have written. */
  | { state: "taken_over" };

/**
 * `Idempotency-Key` bookkeeping: the first request with a key runs; repeats get its answer. A
 * claim is a lease of `leaseMs` (longer than any request may run): a claim older than that,
 * still without an answer, belonged to a run that died, and the next request with the key takes
 * it over instead of being refused as "still running" for the rest of the day.
 */
export function idempotencyStore(db: Database, options: { leaseMs?: number } = {}) {
  const leaseMs = options.leaseMs ?? 120_000;
  const expired = () => new Date(Date.now() - TTL_MS);
  return {
    /** Claims a key for a request; concurrent claims race on the primary key, so exactly one wins. */
    async claim(apiKeyId: string, key: string, requestHash: string): Promise<Claim> {
      const mine = and(eq(idempotencyKeys.apiKeyId, apiKeyId), eq(idempotencyKeys.key, key));
      // Keys older than 24 h count as never used; sweep those of every caller now and then.
      await db.delete(idempotencyKeys).where(and(mine, lt(idempotencyKeys.createdAt, expired())));
      if (Math.random() < 0.01) await db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, expired()));
      const inserted = await db
        .insert(idempotencyKeys)
        .values({ apiKeyId, key, requestHash })
        .onConflictDoNothing()
        .returning({ key: idempotencyKeys.key });
      if (inserted.length) return { state: "new" };
      const [row] = await db.select().from(idempotencyKeys).where(mine);
      if (!row) return this.claim(apiKeyId, key, requestHash);
      if (row.requestHash !== requestHash) return { state: "mismatch" };
      if (row.status === null) {
        if (row.createdAt.getTime() > Date.now() - leaseMs) return { state: "in_progress" };
        // Exactly one taker: the update matches only while the stale claim is unchanged.
        const taken = await db
          .update(idempotencyKeys)
          .set({ createdAt: new Date() })
          .where(and(mine, isNull(idempotencyKeys.status), eq(idempotencyKeys.createdAt, row.createdAt)))
          .returning({ key: idempotencyKeys.key });
        return taken.length ? { state: "taken_over" } : this.claim(apiKeyId, key, requestHash);
      }
      return { state: "replay", status: row.status, body: row.body };
    },

    async complete(apiKeyId: string, key: string, status: number, body: unknown) {
      await db
        .update(idempotencyKeys)
        .set({ status, body: sql`${JSON.stringify(body ?? null)}::jsonb` })
        .where(and(eq(idempotencyKeys.apiKeyId, apiKeyId), eq(idempotencyKeys.key, key)));
    },

    /** Frees a key whose request failed in a way worth retrying. */
    async release(apiKeyId: string, key: string) {
      await db.delete(idempotencyKeys).where(and(eq(idempotencyKeys.apiKeyId, apiKeyId), eq(idempotencyKeys.key, key)));
    },
  };
}

export type IdempotencyStore = ReturnType<typeof idempotencyStore>;
