import { afterEach, describe, expect, it, vi } from "vitest";
import { ttlCache } from "../src/cache.ts";

describe("ttlCache", () => {
  afterEach(() => vi.useRealTimers());

  it("serves a loaded value until its TTL passes, then loads again", async () => {
    vi.useFakeTimers();
    const cache = ttlCache<number>(1_000);
    let loads = 0;
    const load = async () => ++loads;
    expect(await cache.get("k", load)).toBe(1);
    vi.advanceTimersByTime(999);
    expect(await cache.get("k", load)).toBe(1);
    vi.advanceTimersByTime(2);
    expect(await cache.get("k", load)).toBe(2);
  });

  it("forgets a key at once when told (a write through this process)", async () => {
    const cache = ttlCache<string>(60_000);
    await cache.get("k", async () => "old");
    cache.delete("k");
    expect(await cache.get("k", async () => "new")).toBe("new");
    cache.clear();
    expect(await cache.get("k", async () => "newer")).toBe("newer");
  });

  it("never caches with a TTL of 0, and drops the oldest entry when full", async () => {
    const off = ttlCache<number>(0);
    let n = 0;
    await off.get("k", async () => ++n);
    expect(await off.get("k", async () => ++n)).toBe(2);
    const small = ttlCache<string>(60_000, 2);
    await small.get("a", async () => "a1");
    await small.get("b", async () => "b1");
    await small.get("c", async () => "c1");
    expect(await small.get("a", async () => "a2")).toBe("a2");
    expect(await small.get("c", async () => "c2")).toBe("c1");
  });

  it("never keeps a value loaded before a write invalidated it, so a revoked key cannot linger", async () => {
    for (const invalidate of ["delete", "clear"] as const) {
      const cache = ttlCache<string>(60_000);
      let release!: () => void;
      // A read that loads the row as it was before the write, and finishes after the write.
      const racing = cache.get("k", () => new Promise<string>((resolve) => (release = () => resolve("before the write"))));
      await new Promise((resolve) => setImmediate(resolve));
      if (invalidate === "delete") cache.delete("k");
      else cache.clear();
      release();
      expect(await racing).toBe("before the write");
      expect(await cache.get("k", async () => "after the write"), invalidate).toBe("after the write");
    }
  });
});
