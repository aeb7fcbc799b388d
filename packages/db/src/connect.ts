import { createHash } from "node:crypto";
import { and, eq, gt, isNull, lt, sql } from "drizzle-orm";
import { connectSessions } from "./schema.ts";
import type { Database } from "./store.ts";

export type ConnectSession = typeof connectSessions.$inferSelect;
export type NewConnectSession = Omit<typeof connectSessions.$inferInsert, "id" | "tokenHash" | "createdAt" | "usedAt" | "attempts">;

/** Only this is stored: a leaked table cannot open a page. */
const hashOf = (token: string) => createHash("sha256").update(token).digest("hex");

export function connectSessionStore(db: Database) {
  return {
    async create(token: string, input: NewConnectSession): Promise<ConnectSession> {
      const [row] = await db
        .insert(connectSessions)
        .values({ ...input, tokenHash: hashOf(token) })
        .returning();
      return row as ConnectSession;
    },

    /** The session a link's token opens, whatever its state (the page explains an expired or used one). */
    async byToken(token: string): Promise<ConnectSession | undefined> {
      const [row] = await db
        .select()
        .from(connectSessions)
        .where(eq(connectSessions.tokenHash, hashOf(token)));
      return row;
    },

    async get(id: string): Promise<ConnectSession | undefined> {
      const [row] = await db.select().from(connectSessions).where(eq(connectSessions.id, id));
      return row;
    },

    /**
     * Starts one submission: counts the attempt and marks the session used, in one statement, so
     * two tabs submitting at once cannot both go on, nor slip past the attempt limit. Answers the
     * session when it was open (unused, unexpired, under the limit), else undefined.
     */
    async begin(id: string, maxAttempts: number): Promise<ConnectSession | undefined> {
      const [row] = await db
        .update(connectSessions)
        .set({ attempts: sql`${connectSessions.attempts} + 1`, usedAt: sql`now()` })
        .where(
          and(
            eq(connectSessions.id, id),
            isNull(connectSessions.usedAt),
            gt(connectSessions.expiresAt, sql`now()`),
            lt(connectSessions.attempts, maxAttempts),
          ),
        )
        .returning();
      return row;
    },

    /** Opens the session again after a submission the vendor refused (the attempt still counts). */
    async release(id: string): Promise<void> {
      await db.update(connectSessions).set({ usedAt: null }).where(eq(connectSessions.id, id));
    },

    async finish(id: string, connectionId: string): Promise<void> {
      await db.update(connectSessions).set({ resultConnectionId: connectionId }).where(eq(connectSessions.id, id));
    },

    /** Drops sessions that expired before `before` (the tick job keeps the table small). */
    async prune(before: Date): Promise<number> {
      const rows = await db.delete(connectSessions).where(lt(connectSessions.expiresAt, before)).returning({ id: connectSessions.id });
      return rows.length;
    },
  };
}

export type ConnectSessionStore = ReturnType<typeof connectSessionStore>;
