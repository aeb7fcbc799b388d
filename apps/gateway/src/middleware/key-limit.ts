import type { Context } from "hono";
import type { ApiKey } from "@unifold/db";
import { Failure } from "../domain/failure.ts";
import type { AppEnv } from "../http/env.ts";

/** When UNIFOLD_API_KEY_RATE_LIMIT is set: each API key's requests per minute across all instances, answered 429 past it (see requireScope). */
export async function takeApiKeyLimit(c: Context<AppEnv>, key: ApiKey): Promise<void> {
  const limit = c.get("services").access.limits.apiKeys;
  if (!limit) return;
  const taken = await limit.take(key.id);
  if (taken.allowed) return;
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
