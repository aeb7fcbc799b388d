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
    const key = await c.var.services.apiKeys.authenticate(match[1] as string);
    if (!key) throw new ApiError("unauthorized", "the API key is unknown or revoked");
    if (key.scope !== "admin" && !scopes.includes(key.scope)) {
      throw new ApiError("forbidden", `this route needs an API key with scope ${scopes.join(" or ")}; this key has scope ${key.scope}`);
    }
    c.set("apiKey", key);
    await next();
  };
}

/** The tenant an API key is bound to, or undefined when it reaches every tenant. */
export function tenantOf(key: ApiKey): string | undefined {
  return key.tenantId ?? undefined;
}
