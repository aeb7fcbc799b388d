import { randomBytes } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../services.ts";

const SANE = /^[\w.:-]{1,128}$/;

/** Echoes a caller's `x-request-id` when it is sane, else makes one; every response carries it. */
export const requestId: MiddlewareHandler<AppEnv> = async (c, next) => {
  const given = c.req.header("x-request-id");
  const id = given && SANE.test(given) ? given : `req_${randomBytes(12).toString("base64url")}`;
  c.set("requestId", id);
  c.header("x-request-id", id);
  await next();
};
