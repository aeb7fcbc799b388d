import { openStore, rateLimits, type Store } from "@unifold/db";
import { RateLimiterDrizzle } from "rate-limiter-flexible";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test-support/database.ts";
import { leased, leaseSize } from "../src/limits.ts";

/*
 * Shared per-key limits taken in leases (limits.ts): each instance takes a share of the rule from
 * Postgres at once and spends it locally. What must hold is what the rule promises across
 * instances: never more than the rule allows, and no more left unused than the leases in hand.
 */
describe("shared limits taken in leases, on Postgres", () => {
  let database: TestDatabase;
  let store: Store;
  let prefixes = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openStore({ databaseUrl: database.url });
  });
  afterAll(async () => {
    await store.close();
    await database.drop();
  });

  /** The store of one rule as each instance makes it (its own object, one table), and a count of its round trips. */
  const sharedStore = (rule: { requests: number; per_seconds: number }) => {
    const keyPrefix = `lease-test-${++prefixes}`;
    const calls = { consume: 0, reward: 0 };
    const instance = () => {
      const limiter = new RateLimiterDrizzle({
        storeClient: store.db,
        schema: rateLimits,
        points: rule.requests,
        duration: rule.per_seconds,
        keyPrefix,
      });
      return {
        limiter,
        consume: (key: string, points?: number) => (calls.consume++, limiter.consume(key, points)),
        reward: (key: string, points?: number) => (calls.reward++, limiter.reward(key, points)),
      };
    };
    return { instance, calls };
  };

  it("three instances taking 1.5 times the rule at once are allowed at most the rule, short by no more than their leases", async () => {
    const rule = { requests: 1_000, per_seconds: 60 };
    const shared = sharedStore(rule);
    const instances = [0, 1, 2].map(() => leased(rule, shared.instance()));
    const answers = await Promise.all(Array.from({ length: 1_500 }, (_, i) => instances[i % 3]!.take("key-a").then((a) => a.allowed)));
    const allowed = answers.filter(Boolean).length;
    expect(allowed).toBeLessThanOrEqual(rule.requests);
    expect(allowed).toBeGreaterThanOrEqual(rule.requests - 3 * (leaseSize(rule) - 1));
    // A lease per 10 requests, not a round trip per request (and the refusals near the end).
    expect(shared.calls.consume).toBeLessThan(300);
    // Another key has its own budget.
    expect((await instances[0]!.take("key-b")).allowed).toBe(true);
  });

  it("spends the rule exactly when it is not a whole number of leases, gives back what it did not take, and then refuses with a wait", async () => {
    const rule = { requests: 1_005, per_seconds: 60 };
    const shared = sharedStore(rule);
    const one = leased(rule, shared.instance());
    let allowed = 0;
    for (let i = 0; i < 1_005; i++) if ((await one.take("k")).allowed) allowed++;
    expect(allowed).toBe(1_005);
    const refused = await one.take("k");
    expect(refused.allowed).toBe(false);
    expect(refused.waitMs).toBeGreaterThan(1_000);
    // The store holds what was spent, not the refused lease.
    const left = await shared.instance().limiter.get("k");
    expect(left?.consumedPoints).toBe(1_005);
  });

  it("drops what is left of a lease when the store's window ends, instead of spending it in the next window", async () => {
    const rule = { requests: 300, per_seconds: 1 };
    const shared = sharedStore(rule);
    const one = leased(rule, shared.instance());
    expect((await one.take("k")).allowed).toBe(true);
    const first = await shared.instance().limiter.get("k");
    expect(first?.consumedPoints).toBe(leaseSize(rule));
    await new Promise((resolve) => setTimeout(resolve, (first?.msBeforeNext ?? 1_000) + 100));
    expect((await one.take("k")).allowed).toBe(true);
    // A new lease in the new window: the store counts it, so no instance could exceed the rule with old leftovers.
    const second = await shared.instance().limiter.get("k");
    expect(second?.consumedPoints).toBe(leaseSize(rule));
    expect(shared.calls.consume).toBe(2);
  });

  it("a small rule is taken one request at a time, exactly", async () => {
    const rule = { requests: 5, per_seconds: 60 };
    expect(leaseSize(rule)).toBe(1);
    const shared = sharedStore(rule);
    const [a, b] = [leased(rule, shared.instance()), leased(rule, shared.instance())];
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).take("k")));
    expect(answers.filter((x) => x.allowed)).toHaveLength(5);
  });
});
