import type { MiddlewareHandler } from "hono";
import { Failure } from "../domain/failure.ts";
import type { AppEnv } from "../http/env.ts";

const JSON_TYPE = /^application\/([\w.+-]+\+)?json\s*(;|$)/i;
// Proxy and passthrough carry the vendor's own bodies, whatever their type; the connect page posts an HTML form.
const RAW = /^\/(proxy|passthrough)(\/|$)|^\/connect\/ucs_/;

/**
 * The gateway's own routes take JSON: a request body of another type (or of none named) is
 * answered 415 in the contract's error shape before any handler reads it, rather than reaching
 * a handler that finds no parsed body.
 */
export const jsonBodies: MiddlewareHandler<AppEnv> = async (c, next) => {
  const method = c.req.method;
  if ((method === "POST" || method === "PUT" || method === "PATCH") && !RAW.test(c.req.path)) {
    const length = c.req.header("content-length");
    const hasBody = length !== undefined ? length !== "0" : c.req.header("transfer-encoding") !== undefined;
    const type = c.req.header("content-type");
    if (hasBody && !(type && JSON_TYPE.test(type))) {
      throw new Failure(
        "unsupported_media_type",
        `the request body must be application/json (it was sent as ${type ?? "no content type"})`,
      );
    }
  }
  await next();
};
