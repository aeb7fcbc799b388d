import { describe, expect, it } from "vitest";
import { createRateGate, RateLimitedLocally, tokenBuckets } from "../src/rate-gate.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("rate gate", () => {
  it("keeps at most maxConcurrency calls in flight per key, others wait their turn", async () => {
    const gate = createRateGate({ maxConcurrency: 2, maxWaitMs: 1_000 });
    let inFlight = 0;
    let peak = 0;
    const work = async () => {
      peak = Math.max(peak, ++inFlight);
      await sleep(20);
      inFlight--;
      return "done";
    };
    const results = await Promise.all(Array.from({ length: 6 }, () => gate.run("conn-a", undefined, work)));
    expect(results).toEqual(Array(6).fill("done"));
    expect(peak).toBe(2);
    // Another key is not held up by this one.
    peak = 0;
    await Promise.all([gate.run("conn-a", undefined, work), gate.run("conn-b", undefined, work)]);
    expect(peak).toBe(2);
  });

  it("refuses a call that would wait past maxWaitMs for a slot", async () => {
    const gate = createRateGate({ maxConcurrency: 1, maxWaitMs: 30 });
    const slow = gate.run("k", undefined, () => sleep(200));
    await expect(gate.run("k", undefined, async () => "late")).rejects.toBeInstanceOf(RateLimitedLocally);
    await slow;
    expect(await gate.run("k", undefined, async () => "free again")).toBe("free again");
  });

  it("refills token buckets evenly over the period", () => {
    let now = 0;
    const buckets = tokenBuckets(() => now);
    const rule = { requests: 2, per_seconds: 10 };
    expect(buckets.take("k", rule).allowed).toBe(true);
    expect(buckets.take("k", rule).allowed).toBe(true);
    const refused = buckets.take("k", rule);
    expect(refused).toMatchObject({ allowed: false, waitMs: 5_000 });
    now = 5_000;
    expect(buckets.take("k", rule).allowed).toBe(true);
  });
});
