import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { openStore, type Store } from "@unifold/db";
import { pino } from "pino";
import { RateLimiterMemory } from "rate-limiter-flexible";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test-support/database.ts";
import { freePort } from "../../../test-support/free-port.ts";
import { redisForTests } from "../../../test-support/redis.ts";
import { createLimits, type KeyLimiter, leased, leaseSize, type Limits, pooledSlots } from "../src/limits.ts";

/*
 * The gateway's own limits (limits.ts) as an operator and a caller meet them: where they live for
 * each way the gateway is started, each limit with its own budget per key, shared by instances
 * when they share a store, and what happens when that store stops answering. The shared-store
 * pacing of upstream calls is in shared-pacing.test.ts, the leases' arithmetic in limits.lease.test.ts.
 */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const redis = await redisForTests();
if ("skipped" in redis) console.warn(`\n  limits.test.ts: the Redis cases are skipped (${redis.skipped}).\n`);
const redisIt = "url" in redis ? it : it.skip;
const redisUrl = "url" in redis ? redis.url : "";

/** A logger whose lines the test reads. */
function capturedLogger() {
  const lines: { level: number; msg: string; err?: string }[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: "info" }, sink), lines };
}
const silent = pino({ level: "silent" });

let database: TestDatabase;
let store: Store;
const opened: Limits[] = [];
beforeAll(async () => {
  database = await createTestDatabase();
  store = await openStore({ databaseUrl: database.url, poolSize: 4 });
});
afterAll(async () => {
  for (const limits of opened) await limits.close();
  await store.close();
  await database.drop();
});
const limitsOf = (options: Partial<Parameters<typeof createLimits>[0]>) => {
  const limits = createLimits({ store, shared: true, logger: silent, ...options });
  opened.push(limits);
  return limits;
};
/** Limits whose store answers: a new Redis client refuses commands until it has connected. */
const answering = async (options: Partial<Parameters<typeof createLimits>[0]>) => {
  const limits = limitsOf(options);
  for (let tries = 0; limits.pacing; tries++) {
    try {
      await limits.pacing.takeCall(`probe-${randomUUID()}`, { requests: 1_000, per_seconds: 1 });
      break;
    } catch (error) {
      if (tries === 100) throw error;
      await sleep(20);
    }
  }
  return limits;
};

/** Takes `n` requests for `key`, in order, and says which were allowed. */
const takeAll = async (limiter: KeyLimiter, key: string, n: number) => {
  const answers: { allowed: boolean; waitMs: number }[] = [];
  for (let i = 0; i < n; i++) answers.push(await limiter.take(key));
  return answers;
};

describe("where the limits live", () => {
  const rule = { requests: 5, per_seconds: 60 };

  it("in this process when sharing is off, even with Redis and Postgres at hand: no shared pacing", () => {
    const limits = limitsOf({ shared: false, redisUrl: "redis://127.0.0.1:1", apiKeyRule: rule });
    expect(limits.store).toBe("memory");
    expect(limits.pacing).toBeUndefined();
    expect(limits.apiKeys?.rule).toEqual(rule);
  });

  it("in Postgres when shared without Redis, and in Redis when REDIS_URL is set", async () => {
    const inPostgres = createLimits({ store, shared: true, logger: silent });
    expect(inPostgres.store).toBe("postgres");
    await expect(inPostgres.close()).resolves.toBeUndefined();
    const inRedis = limitsOf({ redisUrl: `redis://127.0.0.1:${await freePort()}` });
    expect(inRedis.store).toBe("redis");
    expect(inRedis.pacing).toBeDefined();
  });

  it("in this process on the embedded database, which only one instance can open", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unifold-limits-"));
    const embedded = await openStore({ dataDir: dir });
    try {
      const limits = createLimits({ store: embedded, shared: true, logger: silent, apiKeyRule: rule });
      expect(limits.store).toBe("memory");
      expect(limits.pacing).toBeUndefined();
      expect((await takeAll(limits.apiKeys!, "k", 6)).map((a) => a.allowed)).toEqual([true, true, true, true, true, false]);
      await limits.close();
    } finally {
      await embedded.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The three per-key limits of one instance, each with a rule of its own. */
const variants = [
  { name: "in this process", options: { shared: false } },
  { name: "in Postgres", options: { shared: true } },
  ...("url" in redis ? [{ name: "in Redis", options: { shared: true, redisUrl } }] : []),
];

describe.each(variants)("API keys, connect-page clients and SCIM connections, limited $name", ({ options }) => {
  const [keyRule, connectRule, scimRule] = [
    { requests: 3, per_seconds: 60 },
    { requests: 2, per_seconds: 60 },
    { requests: 4, per_seconds: 60 },
  ];
  const make = () => answering({ ...options, apiKeyRule: keyRule, connectClientRule: connectRule, scimRule });

  it("allows each its own rule per key, then refuses with the wait until its window ends", async () => {
    const limits = await make();
    const who = `caller-${randomUUID()}`;
    const cases: [KeyLimiter | undefined, number][] = [
      [limits.apiKeys, 3],
      [limits.connectClients, 2],
      [limits.scimConnections, 4],
    ];
    for (const [limiter, allowed] of cases) {
      // The same name under each limit: each counts its own.
      const answers = await takeAll(limiter!, who, allowed + 1);
      expect(answers.map((a) => a.allowed)).toEqual([...Array(allowed).fill(true), false]);
      expect(answers.slice(0, -1).every((a) => a.waitMs === 0)).toBe(true);
      // Shared: until the window ends, most of the minute. In process: until one request's share of the minute is back.
      const waitMs = answers.at(-1)!.waitMs;
      if (options.shared) expect(waitMs).toBeGreaterThan(30_000);
      else expect(waitMs).toBeGreaterThan(60_000 / allowed - 1_000);
      expect(waitMs).toBeLessThanOrEqual(options.shared ? 60_000 : 60_000 / allowed);
      // Another key has a budget of its own.
      expect((await limiter!.take(`other-${randomUUID()}`)).allowed).toBe(true);
    }
    expect(limits.apiKeys!.rule).toEqual(keyRule);
    expect(limits.connectClients!.rule).toEqual(connectRule);
    expect(limits.scimConnections!.rule).toEqual(scimRule);
  });

  it("has no limit where no rule is set", () => {
    const limits = limitsOf({ ...options });
    expect([limits.apiKeys, limits.connectClients, limits.scimConnections]).toEqual([undefined, undefined, undefined]);
  });

  if (options.shared) {
    it("is shared by instances on the same store, rule by rule", async () => {
      const [one, two] = [await make(), await make()];
      const who = `caller-${randomUUID()}`;
      expect((await takeAll(one.apiKeys!, who, 2)).map((a) => a.allowed)).toEqual([true, true]);
      expect((await takeAll(two.apiKeys!, who, 2)).map((a) => a.allowed)).toEqual([true, false]);
      // An instance with a different rule counts apart (its window and points differ).
      const other = await answering({ ...options, apiKeyRule: { requests: 10, per_seconds: 60 } });
      expect((await other.apiKeys!.take(who)).allowed).toBe(true);
    });

    it("rounds a window of part of a second up to a whole second, never down to none", async () => {
      const limits = await answering({ ...options, apiKeyRule: { requests: 1, per_seconds: 0.2 } });
      const who = `caller-${randomUUID()}`;
      const [first, second] = await takeAll(limits.apiKeys!, who, 2);
      expect(first!.allowed).toBe(true);
      expect(second!.allowed).toBe(false);
      expect(second!.waitMs).toBeGreaterThan(0);
      expect(second!.waitMs).toBeLessThanOrEqual(1_000);
    });
  }
});

describe("upstream pacing kept in a shared store", () => {
  it("counts calls per connection and rule, and refuses past the rule with at least 1 ms to wait", async () => {
    const [one, two] = [limitsOf({}), limitsOf({})];
    const key = `conn-${randomUUID()}`;
    const rule = { requests: 2, per_seconds: 60 };
    expect(await one.pacing!.takeCall(key, rule)).toEqual({ allowed: true, waitMs: 0 });
    expect(await two.pacing!.takeCall(key, rule)).toEqual({ allowed: true, waitMs: 0 });
    const refused = await one.pacing!.takeCall(key, rule);
    expect(refused.allowed).toBe(false);
    expect(refused.waitMs).toBeGreaterThan(30_000);
    // A rule of part of a second is counted in a whole second.
    const fast = { requests: 1, per_seconds: 0.5 };
    expect((await one.pacing!.takeCall(key, fast)).allowed).toBe(true);
    const again = await one.pacing!.takeCall(key, fast);
    expect(again.allowed).toBe(false);
    expect(again.waitMs).toBeGreaterThanOrEqual(1);
    expect(again.waitMs).toBeLessThanOrEqual(1_000);
  });

  it("takes a connection's rate in leases kept across calls: what one instance holds, the other cannot spend", async () => {
    const [one, two] = [limitsOf({}), limitsOf({})];
    const key = `conn-${randomUUID()}`;
    const rule = { requests: 200, per_seconds: 60 }; // leases of 2
    // Two calls from one lease: the store counts 2, not 4.
    expect(await one.pacing!.takeCall(key, rule)).toEqual({ allowed: true, waitMs: 0 });
    expect(await one.pacing!.takeCall(key, rule)).toEqual({ allowed: true, waitMs: 0 });
    let allowed = 0;
    while ((await two.pacing!.takeCall(key, rule)).allowed) allowed++;
    expect(allowed).toBe(198);
    expect((await one.pacing!.takeCall(key, rule)).allowed).toBe(false);
  });

  it("holds at most `max` calls in flight per connection across instances; a released slot is this instance's first, then free again", async () => {
    const [one, two] = [limitsOf({ slotIdleMs: 150 }), limitsOf({ slotIdleMs: 150 })];
    const key = `conn-${randomUUID()}`;
    const first = await one.pacing!.takeSlot(key, 2);
    const second = await two.pacing!.takeSlot(key, 2);
    expect(first).toBeTypeOf("function");
    expect(second).toBeTypeOf("function");
    // Asked again and again while full, and refused each time without taking a slot.
    for (let i = 0; i < 5; i++) expect(await one.pacing!.takeSlot(key, 2)).toBeUndefined();
    await first!();
    // Released, the slot waits in its instance for that instance's next call...
    expect(await two.pacing!.takeSlot(key, 2)).toBeUndefined();
    const reused = await one.pacing!.takeSlot(key, 2);
    expect(reused).toBeTypeOf("function");
    await reused!();
    // ...and, unused for slotIdleMs, goes back to the store for any instance.
    await sleep(300);
    const third = await two.pacing!.takeSlot(key, 2);
    expect(third).toBeTypeOf("function");
    expect(await one.pacing!.takeSlot(key, 2)).toBeUndefined();
    await second!();
    await third!();
    await sleep(300);
    // Both free: two slots, no more.
    const again = [await one.pacing!.takeSlot(key, 2), await two.pacing!.takeSlot(key, 2), await one.pacing!.takeSlot(key, 2)];
    expect(again.map((release) => typeof release)).toEqual(["function", "function", "undefined"]);
  });

  it("gives a slot back to the store at its release once it has been held slotHoldMs, and an instance's idle slots when it closes", async () => {
    const [one, two] = [limitsOf({ slotHoldMs: 200, slotIdleMs: 60_000 }), limitsOf({})];
    const key = `conn-${randomUUID()}`;
    const slot = await one.pacing!.takeSlot(key, 1);
    await slot!();
    // Handed on within the hold, call after call, with the other instance refused...
    const next = await one.pacing!.takeSlot(key, 1);
    expect(await two.pacing!.takeSlot(key, 1)).toBeUndefined();
    await sleep(250);
    // ...until a release after it: then it is the store's again.
    await next!();
    const others = await two.pacing!.takeSlot(key, 1);
    expect(others).toBeTypeOf("function");
    await others!();
    await sleep(250);
    // An instance that closes gives back the slots it kept idle (here for a minute) at once.
    const kept = await one.pacing!.takeSlot(key, 1);
    expect(kept).toBeTypeOf("function");
    await kept!();
    expect(await two.pacing!.takeSlot(key, 1)).toBeUndefined();
    await one.close();
    expect(await two.pacing!.takeSlot(key, 1)).toBeTypeOf("function");
  });

  it("frees the slot of an instance that died with it after the lease, and a late release opens no extra slot", async () => {
    const limits = limitsOf({ slotLeaseSeconds: 1 });
    const key = `conn-${randomUUID()}`;
    const held = await limits.pacing!.takeSlot(key, 1);
    expect(held).toBeTypeOf("function");
    expect(await limits.pacing!.takeSlot(key, 1)).toBeUndefined();
    // Never released (its instance died): free once the lease has run out.
    let freed: (() => Promise<void>) | undefined;
    for (let tries = 0; !freed && tries < 60; tries++) {
      await sleep(50);
      freed = await limits.pacing!.takeSlot(key, 1);
    }
    expect(freed).toBeTypeOf("function");
    // The dead holder's release arrives late: it must not give the live holder's slot away.
    await held!();
    expect(await limits.pacing!.takeSlot(key, 1)).toBeUndefined();
    await freed!();
  });
});

/** A TCP relay to the test Redis that the test can take down and bring back. */
async function relayToRedis(port: number) {
  const target = new URL(redisUrl);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    async up() {
      server = createServer((socket) => {
        const to = new Socket();
        sockets.add(socket).add(to);
        to.connect(Number(target.port || 6379), target.hostname);
        socket.pipe(to).pipe(socket);
        const close = () => (socket.destroy(), to.destroy());
        socket.on("error", close).on("close", close);
        to.on("error", close).on("close", close);
      });
      await new Promise<void>((resolve) => server!.listen(port, "127.0.0.1", resolve));
    },
    async down() {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server = undefined;
    },
  };
}

describe("a shared store that stops answering", () => {
  redisIt("logs nothing when Redis answers from the start", async () => {
    const { logger, lines } = capturedLogger();
    const limits = await answering({ redisUrl, logger });
    expect(await limits.pacing!.takeCall(`conn-${randomUUID()}`, { requests: 10, per_seconds: 60 })).toEqual({ allowed: true, waitMs: 0 });
    expect(lines).toEqual([]);
  });

  redisIt("logs once that Redis is unreachable, once that it answers again, and once more if it goes again", async () => {
    const { logger, lines } = capturedLogger();
    const relay = await relayToRedis(await freePort());
    const limits = limitsOf({ redisUrl: relay.url, logger });
    const rule = { requests: 1_000, per_seconds: 60 };
    const key = `conn-${randomUUID()}`;
    // Nothing listens yet: calls fail at once (no queue of commands waiting for a connection).
    await expect(limits.pacing!.takeCall(key, rule)).rejects.toThrow();
    await sleep(400);
    const unreachable = "redis (shared limits) is unreachable; upstream calls get 503 until it answers";
    expect(lines.filter((l) => l.msg === unreachable)).toHaveLength(1);
    expect(lines.find((l) => l.msg === unreachable)).toMatchObject({ level: 40, err: expect.stringContaining("ECONNREFUSED") });
    await relay.up();
    for (let tries = 0; !lines.some((l) => l.msg === "redis (shared limits) answers again") && tries < 100; tries++) await sleep(50);
    expect(lines.filter((l) => l.msg === "redis (shared limits) answers again")).toEqual([expect.objectContaining({ level: 30 })]);
    expect(await limits.pacing!.takeCall(key, rule)).toEqual({ allowed: true, waitMs: 0 });
    await relay.down();
    for (let tries = 0; lines.filter((l) => l.msg === unreachable).length < 2 && tries < 100; tries++) await sleep(50);
    expect(lines.filter((l) => l.msg === unreachable)).toHaveLength(2);
    await relay.up();
    for (let tries = 0; lines.filter((l) => l.msg === "redis (shared limits) answers again").length < 2 && tries < 100; tries++)
      await sleep(50);
    expect(await limits.pacing!.takeCall(key, rule)).toEqual({ allowed: true, waitMs: 0 });
    // Closed, the limits let go of Redis: no call is paced through them any more (a connection
    // with no lease in hand; one in hand is spent first, as while Redis is away).
    await limits.close();
    await expect(limits.pacing!.takeCall(`${key}-unleased`, rule)).rejects.toThrow();
    await relay.down();
  });

  it("keeps limiting API keys in each instance, rather than refusing them all or none, while Redis is away", async () => {
    const limits = limitsOf({ redisUrl: `redis://127.0.0.1:${await freePort()}`, apiKeyRule: { requests: 3, per_seconds: 60 } });
    const who = `caller-${randomUUID()}`;
    const answers = await takeAll(limits.apiKeys!, who, 4);
    expect(answers.map((a) => a.allowed)).toEqual([true, true, true, false]);
    // Refused until the rule's window ends, as with the store answering.
    expect(answers[3]!.waitMs).toBeGreaterThan(30_000);
  });
});

describe("leases of a shared per-key limit", () => {
  it("takes 1 % of the rule at once, at least 1 and at most 100", () => {
    expect([1, 99, 100, 250, 10_000, 20_000].map((requests) => leaseSize({ requests, per_seconds: 60 }))).toEqual([1, 1, 1, 2, 100, 100]);
  });

  it("one instance spends a lease without asking the store, and asks once per lease", async () => {
    const rule = { requests: 500, per_seconds: 60 };
    const memory = new RateLimiterMemory({ points: rule.requests, duration: 60 });
    let asked = 0;
    const limiter = leased(rule, {
      consume: (key, points) => (asked++, memory.consume(key, points)),
      reward: (key, points) => memory.reward(key, points),
    });
    const answers = await takeAll(limiter, "k", 500);
    expect(answers.every((a) => a.allowed && a.waitMs === 0)).toBe(true);
    expect(asked).toBe(100);
    const refused = await limiter.take("k");
    expect(refused.allowed).toBe(false);
    expect(refused.waitMs).toBeGreaterThan(30_000);
    // Requests asked together wait for the one lease being taken and share it.
    const together = leased(rule, memory);
    expect((await Promise.all([1, 2, 3, 4, 5].map(() => together.take("other")))).every((a) => a.allowed)).toBe(true);
    expect((await memory.get("other"))?.consumedPoints).toBe(5);
  });

  it("requests waiting on a refused lease are refused with it, and none taken", async () => {
    const rule = { requests: 200, per_seconds: 60 };
    const memory = new RateLimiterMemory({ points: rule.requests, duration: 60 });
    await memory.consume("k", 200);
    const limiter = leased(rule, memory);
    const answers = await Promise.all([1, 2, 3].map(() => limiter.take("k")));
    expect(answers.map((a) => a.allowed)).toEqual([false, false, false]);
    expect((await memory.get("k"))?.consumedPoints).toBe(200);
  });

  it("a store that fails is the caller's error, not an allowed or refused request", async () => {
    const memory = new RateLimiterMemory({ points: 5, duration: 60 });
    const broken = { consume: () => Promise.reject(new Error("store gone")), reward: () => memory.reward("k", 0) };
    await expect(leased({ requests: 5, per_seconds: 60 }, broken).take("k")).rejects.toThrow("store gone");
  });
});

describe("shared concurrency slots kept between calls", () => {
  /** Slots counted in memory as the store counts them, and the round trips asked of it. */
  const countingStore = (windowMs: number) => {
    const asked = { take: 0, giveBack: 0 };
    let held = 0;
    let windowEnds = Date.now() + windowMs;
    const fromStore = async (_key: string, max: number) => {
      asked.take++;
      if (Date.now() >= windowEnds) [held, windowEnds] = [0, Date.now() + windowMs];
      if (held >= max) return undefined;
      held++;
      return { until: windowEnds, giveBack: async () => void (asked.giveBack++, held--) };
    };
    return { asked, fromStore, held: () => held };
  };

  it("a busy instance asks the store once per slot and hold, not once per call", async () => {
    const store = countingStore(60_000);
    const slots = pooledSlots(store.fromStore, { idleMs: 1_000, holdMs: 60_000 });
    // 4 callers, 100 calls each, one after another: 4 slots taken once, none given back while busy.
    await Promise.all(
      [1, 2, 3, 4].map(async () => {
        for (let call = 0; call < 100; call++) {
          const release = await slots.takeSlot("k", 4);
          expect(release).toBeTypeOf("function");
          await new Promise((resolve) => setImmediate(resolve));
          await release!();
        }
      }),
    );
    expect(store.asked).toEqual({ take: 4, giveBack: 0 });
    expect(store.held()).toBe(4);
    await slots.close();
    expect(store.asked.giveBack).toBe(4);
    expect(store.held()).toBe(0);
  });

  it("gives nothing back when a slot's window ends while it is idle, though the clock reads a little short of that end", async () => {
    // A timer counts from the event loop's cached time, which a busy turn leaves behind
    // Date.now(): the timer due at the window's end can run while Date.now() is still short of it.
    vi.useFakeTimers();
    try {
      const store = countingStore(1_000);
      const slots = pooledSlots(store.fromStore, { idleMs: 60_000, holdMs: 60_000 });
      const release = await slots.takeSlot("k", 1);
      await release!();
      vi.setSystemTime(Date.now() - 20);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(store.asked).toEqual({ take: 1, giveBack: 0 });
      // An idle timer that ends before the window does gives its slot back.
      const fresh = countingStore(60_000);
      const quick = pooledSlots(fresh.fromStore, { idleMs: 500, holdMs: 60_000 });
      await (await quick.takeSlot("k", 1))!();
      await vi.advanceTimersByTimeAsync(500);
      expect(fresh.asked).toEqual({ take: 1, giveBack: 1 });
    } finally {
      vi.useRealTimers();
    }
  });

  it("drops a slot whose window has ended instead of handing it on or giving it back", async () => {
    const store = countingStore(150);
    const slots = pooledSlots(store.fromStore, { idleMs: 60_000, holdMs: 60_000 });
    const release = await slots.takeSlot("k", 1);
    await release!();
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The pooled slot's window is over: the next call asks the store, which counts afresh.
    const next = await slots.takeSlot("k", 1);
    expect(next).toBeTypeOf("function");
    expect(store.asked).toEqual({ take: 2, giveBack: 0 });
    // A release after the window's end gives nothing back: the store has forgotten the slot.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await next!();
    await slots.close();
    expect(store.asked.giveBack).toBe(0);
  });
});
