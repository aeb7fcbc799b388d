import type { ApiKeyScope } from "@unifold/db";
import type { MiddlewareHandler } from "hono";
import { Failure } from "../domain/failure.ts";
import type { AppEnv } from "../http/env.ts";
import { takeApiKeyLimit } from "./key-limit.ts";

const BEARER = /^Bearer\s+(\S+)$/i;

/**
 * On a route: a live API key in `Authorization: Bearer <key>` (else 401) whose scope is one of
 * `scopes` (`admin` reaches everything, so it is always accepted; else 403), within its request
 * limit (else 429). Public routes run none of it. One middleware rather than three combined:
 * it runs on every API request, and each combined step was a dispatch and a promise more.
 */
export function requireScope(...scopes: ApiKeyScope[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const match = BEARER.exec(c.req.header("authorization") ?? "");
    if (!match) throw new Failure("unauthorized", "send an API key as Authorization: Bearer <key>");
    const key = await c.get("services").access.apiKeys.authenticate(match[1] as string);
    if (!key) throw new Failure("unauthorized", "the API key is unknown or revoked");
    c.set("apiKey", key);
    if (key.scope !== "admin" && !scopes.includes(key.scope)) {
      throw new Failure("forbidden", `this route needs an API key with scope ${scopes.join(" or ")}; this key has scope ${key.scope}`);
    }
    await takeApiKeyLimit(c, key);
    await next();
  };
}
