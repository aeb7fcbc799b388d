import type { ApiKey, ApiKeyScope } from "@unifold/db";
import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors.ts";
import type { AppEnv } from "../services.ts";

/**
 * Requires `Authorization: Bearer <key>` whose scope is one of `scopes`.
 * `admin` reaches everything, so it is always accepted.
 */
export function requireScope(...scopes: ApiKeyScope[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new ApiError("unauthorized", "send an API key as Authorization: Bearer <key>");
    const key = await c.get("services").apiKeys.authenticate(match[1] as string);
    if (!key) throw new ApiError("unauthorized", "the API key is unknown or revoked");
    if (key.scope !== "admin" && !scopes.includes(key.scope)) {
      throw new ApiError("forbidden", `this route needs an API key with scope ${scopes.join(" or ")}; this key has scope ${key.scope}`);
    }
    c.set("apiKey", key);
    const limit = c.get("services").apiKeyLimit;
    if (limit) {
      const taken = limit.buckets.take(key.id, limit.rule);
      if (!taken.allowed) {
        c.get("services").metrics.rateLimited.inc({ cause: "api_key" });
        const retryAfter = String(Math.ceil(taken.waitMs / 1000));
        throw new ApiError("rate_limited", `this API key may make ${limit.rule.requests} requests per ${limit.rule.per_seconds} s`, {
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
}

/** The tenant an API key is bound to, or undefined when it reaches every tenant. */
export function tenantOf(key: ApiKey): string | undefined {
  return key.tenantId ?? undefined;
}
