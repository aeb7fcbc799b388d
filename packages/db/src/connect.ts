import { createHash } from "node:crypto";
import { and, eq, gt, isNull, lt, or, sql } from "drizzle-orm";
import { isUuid } from "./paging.ts";
import { connectSessions } from "./schema.ts";
import type { Database } from "./store.ts";

export type ConnectSession = typeof connectSessions.$inferSelect;
export type NewConnectSession = Omit<
  typeof connectSessions.$inferInsert,
  "id" | "tokenHash" | "createdAt" | "usedAt" | "attempts" | "checkingSince" | "resultConnectionId" | "resultOutcome"
>;

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
      if (!isUuid(id)) return undefined;
      const [row] = await db.select().from(connectSessions).where(eq(connectSessions.id, id));
      return row;
    },

    /**
     * Starts one submission: marks the session as being checked, in one statement, so two tabs
     * (or a double click) cannot both go on. Answers the session when it was open (unused,
     * unexpired, under the attempt limit, not being checked), else undefined. A check left
     * behind by a process that died stops counting after `leaseSeconds`.
     */
    async begin(id: string, maxAttempts: number, leaseSeconds: number): Promise<ConnectSession | undefined> {
      const [row] = await db
        .update(connectSessions)
        .set({ checkingSince: sql`now()` })
        .where(
          and(
            eq(connectSessions.id, id),
            isNull(connectSessions.usedAt),
            gt(connectSessions.expiresAt, sql`now()`),
            lt(connectSessions.attempts, maxAttempts),
            or(
              isNull(connectSessions.checkingSince),
              lt(connectSessions.checkingSince, sql`now() - make_interval(secs => ${leaseSeconds})`),
            ),
          ),
        )
        .returning();
      return row;
    },

    /**
     * Ends a submission that made no connection (the one whose check began at `since`). Only a
     * refusal of the credentials costs an attempt: a vendor that was down or rate limiting is no
     * fault of the customer's.
     */
    async release(id: string, counted: boolean, since: Date): Promise<ConnectSession | undefined> {
      // Only this submission's own check: one that outlived its lease must not end the next one's.
      const [row] = await db
        .update(connectSessions)
        .set({ checkingSince: null, ...(counted && { attempts: sql`${connectSessions.attempts} + 1` }) })
        .where(and(eq(connectSessions.id, id), eq(connectSessions.checkingSince, since)))
        .returning();
      return row ?? (await this.get(id));
    },

    /** Closes the link with its result, which a second submit of the same form is told too. */
    async finish(id: string, connectionId: string, outcome: string): Promise<void> {
      await db
        .update(connectSessions)
        .set({ usedAt: sql`now()`, checkingSince: null, resultConnectionId: connectionId, resultOutcome: outcome })
        .where(eq(connectSessions.id, id));
    },

    /** Drops sessions that expired before `before` (the tick job keeps the table small). */
    async prune(before: Date): Promise<number> {
      const rows = await db.delete(connectSessions).where(lt(connectSessions.expiresAt, before)).returning({ id: connectSessions.id });
      return rows.length;
    },
  };
}

export type ConnectSessionStore = ReturnType<typeof connectSessionStore>;
