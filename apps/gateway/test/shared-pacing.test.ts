import { randomUUID } from "node:crypto";
import { openStore, type Store } from "@unifold/db";
import { createRateGate, PacingUnavailable, RateLimitedLocally } from "@unifold/engine";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test-support/database.ts";
import { freePort } from "../../../test-support/free-port.ts";
import { redisForTests } from "../../../test-support/redis.ts";
import { createLimits, type Limits } from "../src/limits.ts";

/*
 * The rate gate of several gateway instances, each pacing a connection through the limits they
 * share (Postgres, or Redis when REDIS_URL answers): the connection's budget and its calls in
 * flight hold across instances, and a store that does not answer stops the call instead of
 * letting it through unpaced. Two createLimits on two pools stand for two instances.
 */

const logger = pino({ level: "silent" });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const redis = await redisForTests();
if ("skipped" in redis)
  console.warn(`\n  shared-pacing.test.ts: the Redis variant is skipped (${redis.skipped}); the Postgres variant runs.\n`);

let database: TestDatabase;
const stores: Store[] = [];
const opened: Limits[] = [];
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  for (const limits of opened) await limits.close();
  for (const store of stores) await store.close();
  await database.drop();
});

/** One more instance's limits, on its own connection pool. */
async function instance(redisUrl?: string): Promise<Limits> {
  const store = await openStore({ databaseUrl: database.url, poolSize: 2 });
  stores.push(store);
  const limits = createLimits({ store, redisUrl, shared: true, logger });
  opened.push(limits);
  return limits;
}

/** An instance whose store answers: a new Redis client refuses calls until it has connected. */
async function answering(redisUrl?: string): Promise<Limits> {
  const limits = await instance(redisUrl);
  const probe = `probe-${randomUUID()}`;
  for (let tries = 0; ; tries++) {
    try {
      await limits.pacing!.takeCall(probe, { requests: 1_000, per_seconds: 1 });
      return limits;
    } catch (error) {
      if (tries === 100) throw error;
      await sleep(20);
    }
  }
}

const variants = [{ name: "Postgres", redisUrl: undefined }, ...("url" in redis ? [{ name: "Redis", redisUrl: redis.url }] : [])];

describe.each(variants)("a connection's pacing shared by two instances, kept in $name", ({ redisUrl }) => {
  const gates = async (maxWaitMs: number) => {
    const [one, two] = [await answering(redisUrl), await answering(redisUrl)];
    expect([one.store, two.store]).toEqual(redisUrl ? ["redis", "redis"] : ["postgres", "postgres"]);
    return [one, two].map((limits) => createRateGate({ maxConcurrency: 1, maxWaitMs, shared: limits.pacing }));
  };
  /** A call that holds the connection until `finish` is called. */
  const held = () => {
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    return { work: async () => done.then(() => "first"), finish: () => finish() };
  };

  it("keeps one call in flight across both: the other instance's call waits for it, then runs", async () => {
    const [one, two] = await gates(3_000);
    const key = `conn-${randomUUID()}`;
    const ran: string[] = [];
    const first = held();
    const running = one!.run(key, undefined, async () => {
      ran.push("first");
      return first.work();
    });
    while (!ran.length) await sleep(5);
    const second = two!.run(key, undefined, async () => {
      ran.push("second");
      return "second";
    });
    // Meanwhile the second instance asks the store again and again, and is told the slot is taken.
    await sleep(300);
    expect(ran).toEqual(["first"]);
    // Another connection has slots of its own.
    expect(await two!.run(`conn-${randomUUID()}`, undefined, async () => "other connection")).toBe("other connection");
    first.finish();
    expect(await Promise.all([running, second])).toEqual(["first", "second"]);
    expect(ran).toEqual(["first", "second"]);
  });

  it("refuses the other instance's call once its wait for the slot would pass maxWaitMs, and frees the slot after", async () => {
    const [one, two] = await gates(300);
    const key = `conn-${randomUUID()}`;
    const first = held();
    let started = false;
    const running = one!.run(key, undefined, async () => {
      started = true;
      return first.work();
    });
    while (!started) await sleep(5);
    let refusedRan = false;
    const refused = await two!
      .run(key, undefined, async () => {
        refusedRan = true;
      })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RateLimitedLocally);
    expect(refused).toMatchObject({ retryAfterSeconds: 1, message: "more than 1 calls are already in flight on this connection" });
    expect(refusedRan).toBe(false);
    first.finish();
    await running;
    // The refused asks gave their slot back, and the finished call its own: the connection is free.
    expect(await two!.run(key, undefined, async () => "free again")).toBe("free again");
    expect(two!.inFlight()).toEqual({ active: 0, waiting: 0 });
  });

  it("counts both instances' calls against the vendor's rate, and refuses the call past it with the wait", async () => {
    const [one, two] = await gates(1_000);
    const key = `conn-${randomUUID()}`;
    const rule = { requests: 2, per_seconds: 60 };
    expect(await one!.run(key, rule, async () => "one")).toBe("one");
    expect(await two!.run(key, rule, async () => "two")).toBe("two");
    let thirdRan = false;
    const refused = await one!
      .run(key, rule, async () => {
        thirdRan = true;
      })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RateLimitedLocally);
    expect((refused as RateLimitedLocally).message).toBe("this connection has used its 2 calls per 60 s to the vendor");
    // The window's end, in whole seconds: most of the minute (no sooner than a second).
    expect((refused as RateLimitedLocally).retryAfterSeconds).toBeGreaterThan(30);
    expect((refused as RateLimitedLocally).retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(thirdRan).toBe(false);
    // Another connection has a budget of its own.
    expect(await two!.run(`conn-${randomUUID()}`, rule, async () => "other connection")).toBe("other connection");
  });
});

describe("a shared store that does not answer", () => {
  const expectRefused = async (run: (work: () => Promise<string>) => Promise<string>) => {
    let ran = false;
    const outcome = await run(async () => {
      ran = true;
      return "sent";
    }).catch((error: unknown) => error);
    expect(outcome).toBeInstanceOf(PacingUnavailable);
    expect(outcome).toMatchObject({
      name: "PacingUnavailable",
      retryAfterSeconds: 1,
      message: "the shared rate-limit store did not answer, so the call was not sent",
    });
    // What the store said is kept for the log.
    expect((outcome as PacingUnavailable).cause).toBeInstanceOf(Error);
    expect(ran).toBe(false);
  };

  it("stops the call, rate or no rate, when Redis is away (nothing listens at its address)", async () => {
    const limits = await instance(`redis://127.0.0.1:${await freePort()}`);
    expect(limits.store).toBe("redis");
    const gate = createRateGate({ maxConcurrency: 2, maxWaitMs: 1_000, shared: limits.pacing });
    const key = `conn-${randomUUID()}`;
    await expectRefused((work) => gate.run(key, { requests: 100, per_seconds: 1 }, work));
    await expectRefused((work) => gate.run(key, undefined, work));
    // Nothing is left counted in this instance: the refused calls hold no slot.
    expect(gate.inFlight()).toEqual({ active: 0, waiting: 0 });
  });

  it("stops the call when the Postgres the limits live in has gone", async () => {
    const store = await openStore({ databaseUrl: database.url, poolSize: 1 });
    const limits = createLimits({ store, shared: true, logger });
    const gate = createRateGate({ maxConcurrency: 2, maxWaitMs: 1_000, shared: limits.pacing });
    await store.close();
    await expectRefused((work) => gate.run(`conn-${randomUUID()}`, undefined, work));
    expect(gate.inFlight()).toEqual({ active: 0, waiting: 0 });
  });
});
