import type { MiddlewareHandler } from "hono";
import { Failure } from "../domain/failure.ts";
import type { AppEnv } from "../http/env.ts";

/** When UNIFOLD_API_KEY_RATE_LIMIT is set: each API key's requests per minute across all instances, answered 429 past it (see requireScope). */
export const apiKeyLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const limit = c.get("services").access.limits.apiKeys;
  const key = c.get("apiKey");
  if (limit && key) {
    const taken = await limit.take(key.id);
    if (!taken.allowed) {
      c.get("services").platform.metrics.rateLimited.inc({ cause: "api_key" });
      const retryAfter = String(Math.ceil(taken.waitMs / 1000));
      throw new Failure("rate_limited", `this API key may make ${limit.rule.requests} requests per ${limit.rule.per_seconds} s`, {
        headers: {
          "retry-after": retryAfter,
          "ratelimit-limit": String(limit.rule.requests),
          "ratelimit-remaining": "0",
          "ratelimit-reset": retryAfter,
        },
      });
    }
  }
  await next();
};
