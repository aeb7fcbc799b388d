import { rateLimits, type Store } from "@unifold/db";
import { type RateRule, type SharedPacing, tokenBuckets } from "@unifold/engine";
import { Redis } from "ioredis";
import {
  RateLimiterDrizzle,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterStoreAbstract,
} from "rate-limiter-flexible";
import type { Logger } from "pino";

/**
 * Where the gateway's limits live. One instance keeps them in its own memory (no round-trip);
 * several instances share them through Redis when REDIS_URL is set, else through their Postgres.
 */
export type LimitStore = "memory" | "postgres" | "redis";

/** Requests each API key (or, on the connect page, each client address) may make on the gateway. */
export interface KeyLimiter {
  rule: RateRule;
  take(keyId: string): Promise<{ allowed: boolean; waitMs: number }>;
}

export interface Limits {
  store: LimitStore;
  /** Per-connection pacing shared by every instance; undefined means each instance paces alone. */
  pacing?: SharedPacing | undefined;
  apiKeys?: KeyLimiter | undefined;
  /** Requests to the hosted connect page per client address (it takes no API key). */
  connectClients?: KeyLimiter | undefined;
  /** Requests an identity provider makes to one push connection's SCIM service. */
  scimConnections?: KeyLimiter | undefined;
  close(): Promise<void>;
}

export interface LimitOptions {
  store: Store;
  redisUrl?: string | undefined;
  /** False keeps every limit in this process, even on a Postgres server (one instance only). */
  shared: boolean;
  apiKeyRule?: RateRule | undefined;
  connectClientRule?: RateRule | undefined;
  scimRule?: RateRule | undefined;
  logger: Logger;
  /** How long a taken concurrency slot counts when its release is never heard (an instance died). */
  slotLeaseSeconds?: number;
  /** How long a released slot waits in this instance for its next call before it goes back to the store. */
  slotIdleMs?: number;
  /** How long an instance keeps one slot from the store, call after call, before giving it back for others. */
  slotHoldMs?: number;
}

function limitStoreFor(options: Pick<LimitOptions, "store" | "redisUrl" | "shared">): LimitStore {
  if (!options.shared) return "memory";
  if (options.redisUrl) return "redis";
  return options.store.kind === "postgres" ? "postgres" : "memory";
}

export function createLimits(options: LimitOptions): Limits {
  const kind = limitStoreFor(options);
  if (kind === "memory") return inProcessLimits(options.apiKeyRule, options.connectClientRule, options.scimRule);

  let redis: Redis | undefined;
  if (kind === "redis") {
    // No offline queue and a command timeout: with Redis away a limit check fails at once
    // (pacing then answers 503) instead of waiting for a reconnection.
    redis = new Redis(options.redisUrl!, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 1_000,
      connectTimeout: 2_000,
    });
    let reported = false;
    redis.on("error", (error: Error) => {
      if (!reported)
        options.logger.warn({ err: error.message }, "redis (shared limits) is unreachable; upstream calls get 503 until it answers");
      reported = true;
    });
    redis.on("ready", () => {
      if (reported) options.logger.info("redis (shared limits) answers again");
      reported = false;
    });
  }
  // rate-limiter-flexible counts in whole seconds; a rule's window is rounded up, never down.
  const limiters = new Map<string, RateLimiterStoreAbstract>();
  const limiter = (prefix: string, points: number, seconds: number, insurance?: RateLimiterMemory) => {
    const duration = Math.max(1, Math.ceil(seconds));
    const keyPrefix = `unifold:${prefix}:${points}/${duration}`;
    let made = limiters.get(keyPrefix);
    // Stryker disable next-line ConditionalExpression: one limiter per rule saves objects; another on the same store and prefix counts the same
    if (!made) {
      const common = { points, duration, keyPrefix, ...(insurance && { insuranceLimiter: insurance }) };
      made = redis
        ? // Stryker disable next-line BooleanLiteral: with the offline queue off, a command to a Redis not ready fails at once either way
          new RateLimiterRedis({ ...common, storeClient: redis, rejectIfRedisNotReady: true })
        : new RateLimiterDrizzle({ ...common, storeClient: options.store.db, schema: rateLimits });
      limiters.set(keyPrefix, made);
    }
    return made;
  };
  // Short, so the slots of an instance killed mid-call free within seconds (apps/gateway/test/crash.test.ts);
  // the price: a call still running when its window ends stops counting.
  const leaseSeconds = options.slotLeaseSeconds ?? 10;

  // A vendor's rate is taken in leases like an API key's: a store round trip once per lease.
  const rates = new Map<string, KeyLimiter>();
  const rateOf = (rule: RateRule) => {
    const id = `${rule.requests}/${rule.per_seconds}`;
    let made = rates.get(id);
    if (!made) rates.set(id, (made = leased(rule, limiter("pace", rule.requests, rule.per_seconds))));
    return made;
  };
  /** One slot from the store: a point in a window as long as the lease, given back with a reward. */
  const storeSlot = async (key: string, max: number): Promise<StoreSlot | undefined> => {
    // Slots are points in a window as long as the lease: taking one consumes a point, releasing
    // it gives the point back. A slot never released (its instance died) frees when the window ends.
    const slots = limiter("slots", max, leaseSeconds);
    const taken = await slots.consume(key).catch(async (answer: unknown) => {
      if (!(answer instanceof RateLimiterRes)) throw answer;
      // A refused take still counted its point: give it back, or waiters asking again and
      // again would fill the window with slots nobody holds.
      if (answer.msBeforeNext > 100) await slots.reward(key, 1);
      return undefined;
    });
    if (!taken) return undefined;
    return { until: Date.now() + taken.msBeforeNext, giveBack: () => slots.reward(key, 1).then(() => undefined) };
  };

  const pacing: SharedPacing & { close(): Promise<void> } = {
    takeCall: (key, rule) => rateOf(rule).take(key),
    ...pooledSlots(storeSlot, { idleMs: options.slotIdleMs ?? 100, holdMs: options.slotHoldMs ?? 1_000 }),
  };

  // With the store away, each instance limits on its own (the insurance) rather than refusing every request.
  const keyed = (prefix: string, rule: RateRule | undefined): KeyLimiter | undefined => {
    if (!rule) return undefined;
    const window = Math.max(1, Math.ceil(rule.per_seconds));
    const counted = limiter(prefix, rule.requests, rule.per_seconds, new RateLimiterMemory({ points: rule.requests, duration: window }));
    return leased(rule, counted);
  };

  return {
    store: kind,
    pacing,
    apiKeys: keyed("key", options.apiKeyRule),
    connectClients: keyed("connect", options.connectClientRule),
    scimConnections: keyed("scim", options.scimRule),
    async close() {
      await pacing.close().catch(() => {});
      redis?.disconnect();
    },
  };
}

/** One instance: token buckets in memory, as before any sharing (no round-trip per call). */
function inProcessLimits(
  apiKeyRule: RateRule | undefined,
  connectClientRule: RateRule | undefined,
  scimRule: RateRule | undefined,
): Limits {
  const buckets = tokenBuckets();
  const keyed = (prefix: string, rule: RateRule | undefined): KeyLimiter | undefined =>
    rule && { rule, take: async (key) => buckets.take(`${prefix}:${key}`, rule) };
  return {
    store: "memory",
    apiKeys: keyed("key", apiKeyRule),
    connectClients: keyed("connect", connectClientRule),
    scimConnections: keyed("scim", scimRule),
    close: async () => {},
  };
}

/** The requests an instance takes from a shared limit at once: 1 % of the rule (at least 1, at most 100). */
export const leaseSize = (rule: RateRule) => Math.min(100, Math.max(1, Math.floor(rule.requests / 100)));

/**
 * A shared per-key limit taken from the store in leases rather than one request at a time: an
 * instance takes `leaseSize(rule)` points at once and spends them locally until the store's window
 * ends, when whatever is left is dropped (the store has started a new window). So a request costs
 * a store round trip only once per lease. N instances together never exceed the rule: every point
 * spent was counted in the store first; at most `leaseSize - 1` points per instance and window go
 * unused. When fewer points than a lease are left, the instance takes what is left and gives the
 * rest back.
 */
export function leased(rule: RateRule, store: Pick<RateLimiterStoreAbstract, "consume" | "reward">): KeyLimiter {
  const size = leaseSize(rule);
  const leases = new Map<string, { left: number; until: number }>();
  const asking = new Map<string, Promise<{ allowed: boolean; waitMs: number }>>();

  // Leases of windows gone are dropped as they are met; the map is swept when it grows.
  // Stryker disable next-line BlockStatement: the sweep only frees memory; a lease past its window is never spent (take checks `until`)
  const sweep = (now: number) => {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: as above, when the sweep runs changes no answer
    if (leases.size < 10_000) return;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: as above
    for (const [key, lease] of leases) if (lease.until <= now) leases.delete(key);
  };

  const lease = async (key: string): Promise<{ allowed: boolean; waitMs: number }> => {
    const asked = Date.now();
    try {
      const taken = await store.consume(key, size);
      leases.set(key, { left: size - 1, until: asked + taken.msBeforeNext });
      return { allowed: true, waitMs: 0 };
    } catch (answer: unknown) {
      if (!(answer instanceof RateLimiterRes)) throw answer;
      // The store counted the whole lease; what was free before it is `size - over`.
      const over = answer.consumedPoints - rule.requests;
      const free = Math.max(0, size - over);
      await store.reward(key, size - free);
      if (free === 0) return { allowed: false, waitMs: Math.max(1, answer.msBeforeNext) };
      leases.set(key, { left: free - 1, until: asked + answer.msBeforeNext });
      return { allowed: true, waitMs: 0 };
    }
  };

  const take = async (key: string): Promise<{ allowed: boolean; waitMs: number }> => {
    const now = Date.now();
    const held = leases.get(key);
    if (held && held.until > now && held.left > 0) {
      held.left--;
      return { allowed: true, waitMs: 0 };
    }
    // One lease asked for at a time per key: requests meanwhile wait for it, then spend from it
    // (or are refused with it).
    const pending = asking.get(key);
    if (pending) return pending.then((answer) => (answer.allowed ? take(key) : answer));
    sweep(now);
    const next = lease(key).finally(() => asking.delete(key));
    asking.set(key, next);
    return next;
  };
  return { rule, take };
}

/** A concurrency slot the store has counted: it counts until `until` (its window's end) unless given back. */
export interface StoreSlot {
  until: number;
  giveBack(): Promise<void>;
}

/**
 * Shared concurrency slots kept between calls. A slot the store granted goes, when its call ends,
 * to this instance's next call rather than back to the store, until it has sat unused `idleMs` or
 * been held `holdMs` since the store granted it. So a busy connection costs the store about two
 * round trips per slot and `holdMs`, not two per call. Every slot held, in use or idle, was counted
 * in the store first, so N instances together never hold more than `max`; the price is that a
 * slot idle here is one another instance waits for, at most `idleMs`. A slot is dropped, not given
 * back, once its window has ended (the store has forgotten it already).
 */
export function pooledSlots(
  fromStore: (key: string, max: number) => Promise<StoreSlot | undefined>,
  options: { idleMs: number; holdMs: number },
) {
  const idle = new Map<string, { slot: StoreSlot; grantedAt: number; timer: NodeJS.Timeout }[]>();
  // A slot this close to its window's end is not handed on: the call it would carry could outlive its count.
  const margin = 100;
  const giveBack = (slot: StoreSlot) => slot.giveBack().catch(() => {}); // a missed one frees when its window ends

  const releaseOf = (key: string, slot: StoreSlot, grantedAt: number) => async () => {
    const now = Date.now();
    // Stryker disable next-line EqualityOperator: equivalent but for the one millisecond no test can time
    if (now >= slot.until - margin) return;
    // Stryker disable next-line EqualityOperator: as above
    if (now - grantedAt >= options.holdMs) return giveBack(slot);
    const pool = idle.get(key) ?? [];
    idle.set(key, pool);
    // Stryker disable next-line ArithmeticOperator: a timer past the window's end only frees memory later; it gives nothing back then
    const untilWindowEnd = slot.until - margin - now;
    // Decided now, not by the clock when the timer fires: a timer counts from the event loop's
    // cached time, which a busy turn leaves behind Date.now(), so a timer due at the window's
    // end can find Date.now() a few milliseconds short of it.
    // Stryker disable next-line EqualityOperator: equivalent but for the one millisecond no test can time
    const atWindowEnd = untilWindowEnd <= options.idleMs;
    const entry = {
      slot,
      grantedAt,
      timer: setTimeout(
        () => {
          // Its timer is cleared when the slot is taken, so the entry is still in the pool here.
          pool.splice(pool.indexOf(entry), 1);
          // Stryker disable next-line ConditionalExpression,BooleanLiteral: only frees memory; takeSlot and release treat an empty pool as none
          if (!pool.length) idle.delete(key);
          // At its window's end the store forgets the slot by itself: no round trip for it.
          if (atWindowEnd) return;
          // Nor for an idle timer that ran late, past that end.
          // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: reached only when an idle timer runs late past the window's end
          if (Date.now() < slot.until - margin) void giveBack(slot);
        },
        Math.min(options.idleMs, untilWindowEnd),
      ).unref(),
    };
    pool.push(entry);
  };

  return {
    async takeSlot(key: string, max: number) {
      const pool = idle.get(key);
      for (let entry = pool?.pop(); entry; entry = pool!.pop()) {
        clearTimeout(entry.timer);
        // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: reached only when a slot's timer, due at its window's end, runs late
        if (Date.now() < entry.slot.until - margin) {
          // Stryker disable next-line ConditionalExpression,BooleanLiteral: only frees memory, as above
          if (!pool!.length) idle.delete(key);
          return releaseOf(key, entry.slot, entry.grantedAt);
        }
      }
      idle.delete(key);
      const slot = await fromStore(key, max);
      return slot && releaseOf(key, slot, Date.now());
    },
    /** Gives every idle slot back to the store (a closing instance's slots free at once, not at their window's end). */
    async close() {
      const all = [...idle.values()].flat();
      idle.clear();
      for (const entry of all) clearTimeout(entry.timer);
      await Promise.all(all.map((entry) => giveBack(entry.slot)));
    },
  };
}
