/**
 * A small in-process read cache with a time-to-live, for rows read on every request (API keys,
 * connections). Writes made through this process invalidate it once they are written; writes
 * made by another process are seen within the TTL. A TTL of 0 turns it off.
 *
 * A read that was already loading when an invalidation came may hold the row as it was before
 * the write: it is answered, but never cached, so the next read sees the write.
 */
export function ttlCache<V>(ttlMs: number, maxEntries = 10_000) {
  const entries = new Map<string, { value: V; until: number }>();
  let generation = 0;
  return {
    async get(key: string, load: () => Promise<V>): Promise<V> {
      if (ttlMs <= 0) return load();
      const hit = entries.get(key);
      if (hit && hit.until > Date.now()) return hit.value;
      const loading = generation;
      const value = await load();
      if (loading !== generation) return value;
      // Maps iterate in insertion order, so the first key is the oldest.
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
      entries.set(key, { value, until: Date.now() + ttlMs });
      return value;
    },
    delete(key: string) {
      entries.delete(key);
      generation++;
    },
    clear() {
      entries.clear();
      generation++;
    },
  };
}
