import type { ApiKeyScope } from "@unifold/db";
import type { MiddlewareHandler } from "hono";
import { every } from "hono/combine";
import { Failure } from "../domain/failure.ts";
import type { AppEnv } from "../http/env.ts";
import { apiKeyLimit } from "./key-limit.ts";

const BEARER = /^Bearer\s+(\S+)$/i;

/** A live API key in `Authorization: Bearer <key>` becomes the request's caller; else 401. */
const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const match = BEARER.exec(c.req.header("authorization") ?? "");
  if (!match) throw new Failure("unauthorized", "send an API key as Authorization: Bearer <key>");
  const key = await c.get("services").access.apiKeys.authenticate(match[1] as string);
  if (!key) throw new Failure("unauthorized", "the API key is unknown or revoked");
  c.set("apiKey", key);
  await next();
};

/**
 * On a route: an authenticated key whose scope is one of `scopes` (`admin` reaches everything,
 * so it is always accepted), within its request limit. Public routes run none of it.
 */
export function requireScope(...scopes: ApiKeyScope[]): MiddlewareHandler<AppEnv> {
  const inScope: MiddlewareHandler<AppEnv> = async (c, next) => {
    const key = c.get("apiKey");
    if (key.scope !== "admin" && !scopes.includes(key.scope)) {
      throw new Failure("forbidden", `this route needs an API key with scope ${scopes.join(" or ")}; this key has scope ${key.scope}`);
    }
    await next();
  };
  return every(authenticate, inScope, apiKeyLimit);
}
