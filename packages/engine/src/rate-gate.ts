import { sleep } from "./sleep.ts";

/** A rate: `requests` per `per_seconds`, as a vendor publishes it (e.g. 300 per 60). */
export interface RateRule {
  requests: number;
  per_seconds: number;
}

/** The gateway itself declined to send (or accept) a call, to stay within a limit. */
export class RateLimitedLocally extends Error {
  constructor(
    readonly retryAfterSeconds: number,
    message: string,
  ) {
    super(message);
    this.name = "RateLimitedLocally";
  }
}

/** The store that holds the shared pacing counters did not answer: the call is not sent (fail closed). */
export class PacingUnavailable extends Error {
  readonly retryAfterSeconds = 1;
  constructor(cause: unknown) {
    super("the shared rate-limit store did not answer, so the call was not sent", { cause });
    this.name = "PacingUnavailable";
  }
}

/**
 * Pacing counters every gateway instance shares (Redis or Postgres), so a connection's budget
 * holds however many instances call the vendor. Both methods throw when the store is unreachable.
 */
export interface SharedPacing {
  /** Takes one call from the key's rate; else says how long until its window has room. */
  takeCall(key: string, rule: RateRule): Promise<{ allowed: boolean; waitMs: number }>;
  /** Takes one of `max` in-flight slots, released by the returned function; undefined when all are taken. */
  takeSlot(key: string, max: number): Promise<(() => Promise<void>) | undefined>;
}

interface Bucket {
  tokens: number;
  updated: number;
}

/** Token buckets by key: a burst of `requests`, refilled evenly over `per_seconds`. */
export function tokenBuckets(now: () => number = () => Date.now()) {
  const buckets = new Map<string, Bucket>();
  const refill = (key: string, rule: RateRule): Bucket => {
    const at = now();
    const bucket = buckets.get(key) ?? { tokens: rule.requests, updated: at };
    bucket.tokens = Math.min(rule.requests, bucket.tokens + ((at - bucket.updated) / 1000) * (rule.requests / rule.per_seconds));
    bucket.updated = at;
    buckets.set(key, bucket);
    return bucket;
  };
  return {
    /** Takes a token if there is one; else says how long until there is. */
    take(key: string, rule: RateRule): { allowed: boolean; remaining: number; waitMs: number } {
      const bucket = refill(key, rule);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { allowed: true, remaining: Math.floor(bucket.tokens), waitMs: 0 };
      }
      return { allowed: false, remaining: 0, waitMs: Math.ceil(((1 - bucket.tokens) * rule.per_seconds * 1000) / rule.requests) };
    },
  };
}

/**
 * Paces upstream calls per connection: at most `maxConcurrency` in flight, and within the
 * vendor's published rate. A call that would wait longer than `maxWaitMs` for either is refused
 * with RateLimitedLocally instead, so one busy tenant spends only its own connection's budget
 * and callers get a prompt 429 rather than a request that hangs.
 */
export function createRateGate(options: {
  maxConcurrency: number;
  maxWaitMs: number;
  now?: () => number;
  shared?: SharedPacing | undefined;
}) {
  const now = options.now ?? (() => Date.now());
  const buckets = tokenBuckets(now);
  const shared = options.shared;
  // Store errors become PacingUnavailable; a call is never sent unpaced.
  const ask = <T>(work: () => Promise<T>): Promise<T> =>
    work().catch((error: unknown) => {
      throw new PacingUnavailable(error);
    });
  const takeCall = (key: string, rule: RateRule) =>
    shared ? ask(() => shared.takeCall(key, rule)) : Promise.resolve(buckets.take(key, rule));

  /** With a shared store: one of the connection's slots across all instances, polled until the deadline. */
  async function acquireSharedSlot(store: SharedPacing, key: string, deadline: number, signal?: AbortSignal) {
    for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
      const release = await ask(() => store.takeSlot(key, options.maxConcurrency));
      if (release) return release;
      if (now() + pause > deadline) {
        throw new RateLimitedLocally(1, `more than ${options.maxConcurrency} calls are already in flight on this connection`);
      }
      // Jittered, so instances waiting on one connection do not ask in step.
      await sleep(pause / 2 + Math.random() * pause, signal);
    }
  }
  /** A waiter takes the slot it is handed (true), or declines it because its caller gave up (false). */
  type Waiter = () => boolean;
  const slots = new Map<string, { active: number; waiting: Waiter[] }>();

  async function acquireSlot(key: string, deadline: number, signal?: AbortSignal) {
    const slot = slots.get(key) ?? { active: 0, waiting: [] };
    slots.set(key, slot);
    if (slot.active < options.maxConcurrency) {
      slot.active++;
      return;
    }
    signal?.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const leave = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        slot.waiting = slot.waiting.filter((w) => w !== wake);
      };
      const timer = setTimeout(
        () => {
          leave();
          reject(new RateLimitedLocally(1, `more than ${options.maxConcurrency} calls are already in flight on this connection`));
        },
        Math.max(0, deadline - now()),
      );
      // A caller that gives up leaves the queue at once, so it is never handed a slot it would drop.
      const onAbort = () => {
        leave();
        reject(signal!.reason);
      };
      const wake: Waiter = () => {
        // Stryker disable next-line ConditionalExpression,BooleanLiteral: equivalent, unreachable: an abort runs onAbort at once, which takes the waiter out of the queue before any release can wake it
        if (signal?.aborted) return false;
        leave();
        resolve();
        return true;
      };
      // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent: a signal aborts once, and onAbort removes itself (leave) anyway
      signal?.addEventListener("abort", onAbort, { once: true });
      slot.waiting.push(wake);
    });
  }

  function release(key: string) {
    const slot = slots.get(key);
    // Stryker disable next-line ConditionalExpression: equivalent, unreachable: release follows acquireSlot, which made the key's slot
    if (!slot) return;
    // The slot passes straight to the next waiter still waiting; with none, it is freed.
    for (let next = slot.waiting.shift(); next; next = slot.waiting.shift()) if (next()) return;
    if (--slot.active === 0) slots.delete(key);
  }

  return {
    /**
     * Calls in flight and waiting on a connection, or on all of them without a key: what a test or
     * an operator can check is back to 0 once traffic stops.
     */
    inFlight(key?: string) {
      const counted = key === undefined ? [...slots.values()] : [slots.get(key)];
      let active = 0;
      let waiting = 0;
      for (const slot of counted) {
        active += slot?.active ?? 0;
        waiting += slot?.waiting.length ?? 0;
      }
      return { active, waiting };
    },
    async run<T>(key: string, rule: RateRule | undefined, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
      // One bound on the whole wait, pacing and slot together: a call waits at most maxWaitMs.
      const deadline = now() + options.maxWaitMs;
      if (rule) {
        for (;;) {
          const taken = await takeCall(key, rule);
          if (taken.allowed) break;
          if (now() + taken.waitMs > deadline) {
            throw new RateLimitedLocally(
              Math.max(1, Math.ceil(taken.waitMs / 1000)),
              `this connection has used its ${rule.requests} calls per ${rule.per_seconds} s to the vendor`,
            );
          }
          await sleep(taken.waitMs, signal);
        }
      }
      await acquireSlot(key, deadline, signal);
      let releaseShared: (() => Promise<void>) | undefined;
      try {
        if (shared) releaseShared = await acquireSharedSlot(shared, key, deadline, signal);
        return await work();
      } finally {
        release(key);
        // A release the store misses is freed when the slot's lease ends.
        void releaseShared?.().catch(() => {});
      }
    },
  };
}
