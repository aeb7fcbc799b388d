import type { ApiKeyScope } from "@unifold/db";
import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";

const BEARER = /^Bearer\s+(\S+)$/i;

/** Every request: a live API key in `Authorization: Bearer <key>` becomes the request's caller. */
export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const match = BEARER.exec(c.req.header("authorization") ?? "");
  if (match) {
    const key = await c.get("services").apiKeys.authenticate(match[1] as string);
    if (key) c.set("apiKey", key);
  }
  await next();
};

/**
 * On a route: requires an authenticated key whose scope is one of `scopes`.
 * `admin` reaches everything, so it is always accepted.
 */
export function requireScope(...scopes: ApiKeyScope[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = c.get("apiKey");
    if (!key) {
      if (!BEARER.test(c.req.header("authorization") ?? ""))
        throw new ApiError("unauthorized", "send an API key as Authorization: Bearer <key>");
      throw new ApiError("unauthorized", "the API key is unknown or revoked");
    }
    if (key.scope !== "admin" && !scopes.includes(key.scope)) {
      throw new ApiError("forbidden", `this route needs an API key with scope ${scopes.join(" or ")}; this key has scope ${key.scope}`);
    }
    await next();
  };
}
