import { createHash, randomBytes } from "node:crypto";
import { and, eq, isNull, sql } from "drizzle-orm";
import { ttlCache } from "./cache.ts";
import { type Change, publishChange } from "./changes.ts";
import { isUuid, type Keyset, listPage, type Page } from "./paging.ts";
import { type ApiKeyScope, apiKeys } from "./schema.ts";
import type { Database } from "./store.ts";

export interface ApiKey {
  id: string;
  name: string;
  scope: ApiKeyScope;
  tenantId: string | null;
  prefix: string;
  createdAt: Date;
  revokedAt: Date | null;
}

/** `ufk_` + 43 base64url characters (32 random bytes). */
export function generateApiKeySecret(): string {
  return `ufk_${randomBytes(32).toString("base64url")}`;
}

export const API_KEY_SHAPE = /^ufk_[A-Za-z0-9_-]{43}$/;

export function hashApiKeySecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

const visible = {
  id: apiKeys.id,
  name: apiKeys.name,
  scope: apiKeys.scope,
  tenantId: apiKeys.tenantId,
  prefix: apiKeys.prefix,
  createdAt: apiKeys.createdAt,
  revokedAt: apiKeys.revokedAt,
};

type NewKey = { name: string; scope: ApiKeyScope; tenantId?: string | null; secret?: string };

/** Inserts a key through `db` or a transaction of it; the secret is generated unless given. */
async function insertKey(db: Pick<Database, "insert">, input: NewKey): Promise<{ key: ApiKey; secret: string }> {
  const secret = input.secret ?? generateApiKeySecret();
  const [row] = await db
    .insert(apiKeys)
    .values({
      name: input.name,
      scope: input.scope,
      tenantId: input.tenantId ?? null,
      secretHash: hashApiKeySecret(secret),
      prefix: secret.slice(0, 8),
    })
    .returning(visible);
  return { key: row as ApiKey, secret };
}

export function apiKeyStore(db: Database, options: { cacheTtlMs?: number } = {}) {
  // Keyed by the secret's hash; a revoke through this process empties it.
  const cache = ttlCache<ApiKey | undefined>(options.cacheTtlMs ?? 0);
  return {
    /** Registers a key; `secret` is generated unless given. */
    create: (input: NewKey) => insertKey(db, input),

    /**
     * The first start's admin key: registered only while no live admin key exists, and by one
     * instance however many start together on an empty database (an advisory lock held for the
     * transaction makes the check and the insert one step). Undefined when one already exists.
     */
    async createFirstAdmin(input: { name: string; secret?: string }): Promise<{ key: ApiKey; secret: string } | undefined> {
      return db.transaction(async (tx) => {
        await tx.execute(sql`select pg_advisory_xact_lock(hashtext('unifold:bootstrap-admin'))`);
        const live = await tx
          .select({ id: apiKeys.id })
          .from(apiKeys)
          .where(and(eq(apiKeys.scope, "admin"), isNull(apiKeys.revokedAt)))
          .limit(1);
        return live.length ? undefined : insertKey(tx, { ...input, scope: "admin" });
      });
    },

    /** The live key behind a presented secret, if any. */
    async authenticate(secret: string): Promise<ApiKey | undefined> {
      if (!API_KEY_SHAPE.test(secret)) return undefined;
      const hash = hashApiKeySecret(secret);
      return cache.get(hash, async () => {
        const [row] = await db
          .select(visible)
          .from(apiKeys)
          .where(and(eq(apiKeys.secretHash, hash), isNull(apiKeys.revokedAt)));
        return row;
      });
    },

    async list(filter: { after?: Keyset | undefined; limit: number }): Promise<Page<ApiKey>> {
      return listPage(apiKeys, filter, [], (q) =>
        db
          .select(visible)
          .from(apiKeys)
          .where(q.where)
          .orderBy(...q.orderBy)
          .limit(q.limit),
      );
    },

    /** Drops what another instance changed (announced on the change channel), or everything. */
    forget(change?: Change) {
      if (change === undefined || change.kind === "api_keys") cache.clear();
    },

    /** Revokes a key; revoking twice keeps the first revocation time. */
    async revoke(id: string): Promise<ApiKey | undefined> {
      if (!isUuid(id)) return undefined;
      const [row] = await db.select(visible).from(apiKeys).where(eq(apiKeys.id, id));
      if (!row || row.revokedAt) return row;
      const [updated] = await db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, id)).returning(visible);
      // After the write: a read racing it may have loaded the key as it was; it is not kept.
      cache.clear();
      await publishChange(db, { kind: "api_keys" });
      return updated;
    },
  };
}

export type ApiKeyStore = ReturnType<typeof apiKeyStore>;
