import { getEventListeners } from "node:events";
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
    const late = await gate.run("k", undefined, async () => "late").catch((error: unknown) => error);
    expect(late).toBeInstanceOf(RateLimitedLocally);
    expect(late).toMatchObject({ retryAfterSeconds: 1, message: "more than 1 calls are already in flight on this connection" });
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

  it("gives a waiting caller's slot back when the caller gives up, so later calls never queue behind a ghost", async () => {
    const gate = createRateGate({ maxConcurrency: 1, maxWaitMs: 5_000 });
    let finish!: () => void;
    const first = gate.run("k", undefined, () => new Promise<void>((resolve) => (finish = resolve)));
    // Ten callers queue behind it and give up, as clients with a short timeout do.
    const quitters = Array.from({ length: 10 }, () => {
      const controller = new AbortController();
      const pending = gate.run("k", undefined, async () => "ran", controller.signal);
      return { controller, pending };
    });
    expect(gate.inFlight("k")).toEqual({ active: 1, waiting: 10 });
    for (const q of quitters) q.controller.abort(new Error("client gone"));
    for (const q of quitters) await expect(q.pending).rejects.toThrow("client gone");
    expect(gate.inFlight("k")).toEqual({ active: 1, waiting: 0 });
    while (!finish) await sleep(1);
    finish();
    await first;
    expect(gate.inFlight("k")).toEqual({ active: 0, waiting: 0 });
    // The connection is whole again: a full set of calls runs at once, none waits.
    const started = performance.now();
    expect(await gate.run("k", undefined, async () => "served")).toBe("served");
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("hands a freed slot past a waiter whose caller gave up to the next one still waiting", async () => {
    const gate = createRateGate({ maxConcurrency: 1, maxWaitMs: 5_000 });
    let finish!: () => void;
    const first = gate.run("k", undefined, () => new Promise<void>((resolve) => (finish = resolve)));
    const controller = new AbortController();
    const quitter = expect(gate.run("k", undefined, async () => "quitter ran", controller.signal)).rejects.toThrow("gone");
    const patient = gate.run("k", undefined, async () => "patient ran");
    controller.abort(new Error("gone"));
    while (!finish) await sleep(1);
    finish();
    await first;
    await quitter;
    expect(await patient).toBe("patient ran");
    expect(gate.inFlight("k")).toEqual({ active: 0, waiting: 0 });
  });

  it("bounds a call's whole wait for the vendor's rate by maxWaitMs, however many callers compete", async () => {
    const gate = createRateGate({ maxConcurrency: 10, maxWaitMs: 300 });
    const rule = { requests: 1, per_seconds: 0.2 }; // one call every 200 ms
    const settled = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const started = performance.now();
        const outcome = await gate.run("k", rule, async () => "sent").catch((error: unknown) => error);
        return { outcome, waited: performance.now() - started };
      }),
    );
    expect(settled.filter((s) => s.outcome === "sent").length).toBeGreaterThanOrEqual(2);
    for (const { outcome, waited } of settled) {
      if (outcome !== "sent") expect(outcome).toBeInstanceOf(RateLimitedLocally);
      // Never a second round of waiting past the bound (slack for a busy machine).
      expect(waited).toBeLessThan(300 + 400);
    }
  });

  it("says how long to wait before the next token, rounded up to whole seconds", () => {
    let now = 0;
    const buckets = tokenBuckets(() => now);
    const rule = { requests: 3, per_seconds: 9 };
    for (let i = 0; i < 3; i++) expect(buckets.take("k", rule)).toMatchObject({ allowed: true, remaining: 2 - i });
    expect(buckets.take("k", rule)).toEqual({ allowed: false, remaining: 0, waitMs: 3_000 });
    now = 1_500; // half a token back
    expect(buckets.take("k", rule)).toEqual({ allowed: false, remaining: 0, waitMs: 1_500 });
    now = 3_000;
    expect(buckets.take("k", rule)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it("keeps the cap for later callers after a call ends with others still running", async () => {
    const gate = createRateGate({ maxConcurrency: 2, maxWaitMs: 2_000 });
    let inFlight = 0;
    let peak = 0;
    const hold = (ms: number) => async () => {
      peak = Math.max(peak, ++inFlight);
      await sleep(ms);
      inFlight--;
    };
    const long = gate.run("k", undefined, hold(150));
    await gate.run("k", undefined, hold(10));
    expect(gate.inFlight("k")).toEqual({ active: 1, waiting: 0 });
    // The ended call's slot is free; the long one still holds the other.
    await Promise.all([long, ...Array.from({ length: 4 }, () => gate.run("k", undefined, hold(20)))]);
    expect(peak).toBe(2);
    expect(gate.inFlight()).toEqual({ active: 0, waiting: 0 });
  });

  it("drops only the waiter whose wait ran out; the others keep their place", async () => {
    const gate = createRateGate({ maxConcurrency: 1, maxWaitMs: 300 });
    const held = gate.run("k", undefined, () => sleep(450));
    const early = gate.run("k", undefined, async () => "early").catch((error: unknown) => error);
    await sleep(200);
    const late = gate.run("k", undefined, async () => "late");
    expect(await early).toBeInstanceOf(RateLimitedLocally);
    expect(gate.inFlight("k")).toEqual({ active: 1, waiting: 1 });
    await held;
    expect(await late).toBe("late");
  });

  it("waits for the vendor's next token when it comes within the bound", async () => {
    const gate = createRateGate({ maxConcurrency: 5, maxWaitMs: 1_000 });
    const rule = { requests: 1, per_seconds: 0.15 };
    const started = performance.now();
    expect(await gate.run("k", rule, async () => "first")).toBe("first");
    expect(await gate.run("k", rule, async () => "second")).toBe("second");
    expect(performance.now() - started).toBeGreaterThanOrEqual(100);
  });

  it("refuses at once, with the seconds until the next token, when that is past the bound", async () => {
    const gate = createRateGate({ maxConcurrency: 5, maxWaitMs: 100 });
    const rule = { requests: 1, per_seconds: 10 };
    await gate.run("k", rule, async () => "spent");
    const started = performance.now();
    const refused = await gate.run("k", rule, async () => "never").catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RateLimitedLocally);
    expect((refused as RateLimitedLocally).retryAfterSeconds).toBe(10);
    expect((refused as RateLimitedLocally).message).toBe("this connection has used its 1 calls per 10 s to the vendor");
    expect(performance.now() - started).toBeLessThan(90);
    // Another connection has a budget of its own.
    expect(await gate.run("other", rule, async () => "sent")).toBe("sent");
  });

  it("counts calls in flight and waiting per connection and over all of them", async () => {
    const gate = createRateGate({ maxConcurrency: 1, maxWaitMs: 1_000 });
    const a = gate.run("a", undefined, () => sleep(60));
    const a2 = gate.run("a", undefined, () => sleep(1));
    const b = gate.run("b", undefined, () => sleep(60));
    expect(gate.inFlight("a")).toEqual({ active: 1, waiting: 1 });
    expect(gate.inFlight("b")).toEqual({ active: 1, waiting: 0 });
    expect(gate.inFlight("c")).toEqual({ active: 0, waiting: 0 });
    expect(gate.inFlight()).toEqual({ active: 2, waiting: 1 });
    await Promise.all([a, a2, b]);
    expect(gate.inFlight()).toEqual({ active: 0, waiting: 0 });
  });

  it("starts a new connection's bucket full and never fills it past its burst", () => {
    let now = 0;
    const buckets = tokenBuckets(() => now);
    const rule = { requests: 2, per_seconds: 1 };
    now = 60_000; // a long idle time adds nothing past the burst
    expect(buckets.take("k", rule)).toMatchObject({ allowed: true, remaining: 1 });
    expect(buckets.take("k", rule)).toMatchObject({ allowed: true, remaining: 0 });
    expect(buckets.take("k", rule)).toEqual({ allowed: false, remaining: 0, waitMs: 500 });
    now += 250; // a quarter of a second: half a token
    expect(buckets.take("k", rule)).toEqual({ allowed: false, remaining: 0, waitMs: 250 });
  });

  it("waits for a token that comes exactly at the bound rather than refusing the call", async () => {
    let now = 0;
    const gate = createRateGate({ maxConcurrency: 1, maxWaitMs: 50, now: () => now });
    const rule = { requests: 1, per_seconds: 0.05 }; // a token every 50 ms
    expect(await gate.run("k", rule, async () => "first")).toBe("first");
    // The next token is 50 ms away: as far as the caller may wait, not past it.
    const second = gate.run("k", rule, async () => "second");
    await sleep(10);
    now = 50;
    expect(await second).toBe("second");
  });

  it("keeps time by the system clock when given no clock", () => {
    const buckets = tokenBuckets();
    const rule = { requests: 1, per_seconds: 3_600 };
    expect(buckets.take("k", rule)).toEqual({ allowed: true, remaining: 0, waitMs: 0 });
    const refused = buckets.take("k", rule);
    expect(refused.allowed).toBe(false);
    // About an hour until the next token.
    expect(refused.waitMs).toBeGreaterThan(3_500_000);
  });

  it("leaves nothing on a caller's signal once its calls are done, however many waited for a slot", async () => {
    // One long-lived signal (a sync job's) across many calls: a listener left behind per call would
    // pile up on it (Node warns past ten) and keep every finished call in memory.
    const gate = createRateGate({ maxConcurrency: 1, maxWaitMs: 5_000 });
    const job = new AbortController();
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => gate.run("k", undefined, () => sleep(2).then(() => i), job.signal)),
    );
    expect(results).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(getEventListeners(job.signal, "abort")).toHaveLength(0);
    // The same when a waiter's time runs out.
    const short = createRateGate({ maxConcurrency: 1, maxWaitMs: 20 });
    const holding = short.run("k", undefined, () => sleep(100), job.signal);
    await expect(short.run("k", undefined, async () => "late", job.signal)).rejects.toBeInstanceOf(RateLimitedLocally);
    await holding;
    expect(getEventListeners(job.signal, "abort")).toHaveLength(0);
  });
});
