import { and, eq, lt } from "drizzle-orm";
import { accessTokens } from "./schema.ts";
import type { Database } from "./store.ts";
import type { Vault } from "./vault.ts";

/**
 * Access tokens shared by the instances on one database (the engine's SharedTokens), sealed with
 * the key ring as credentials are: bound to their key, so a row cannot be read as another's.
 */
export function accessTokenStore(db: Database, vault: Vault) {
  const sealedFor = (key: string) => `token:${key}`;
  return {
    async get(key: string): Promise<{ token: string; renewAt: number } | undefined> {
      const [row] = await db.select().from(accessTokens).where(eq(accessTokens.key, key));
      if (!row || row.renewAt.getTime() <= Date.now()) return undefined;
      const { token } = await vault.open(sealedFor(key), row.sealed);
      return token ? { token, renewAt: row.renewAt.getTime() } : undefined;
    },
    async put(key: string, token: string, renewAt: number): Promise<void> {
      const sealed = await vault.seal(sealedFor(key), { token });
      const at = new Date(renewAt);
      await db
        .insert(accessTokens)
        .values({ key, sealed, renewAt: at })
        .onConflictDoUpdate({ target: accessTokens.key, set: { sealed, renewAt: at } });
      // Tokens of credentials no longer used (rotated, deleted) go a day after their renewal time.
      await db.delete(accessTokens).where(lt(accessTokens.renewAt, new Date(Date.now() - 86_400_000)));
    },
    async drop(key: string, token: string): Promise<void> {
      const [row] = await db.select().from(accessTokens).where(eq(accessTokens.key, key));
      if (!row) return;
      const held = await vault.open(sealedFor(key), row.sealed).catch(() => undefined);
      // Another instance's newer token stays: only the one the vendor refused goes.
      if (!held || held.token === token)
        await db.delete(accessTokens).where(and(eq(accessTokens.key, key), eq(accessTokens.sealed, row.sealed)));
    },
  };
}

export type AccessTokenStore = ReturnType<typeof accessTokenStore>;
