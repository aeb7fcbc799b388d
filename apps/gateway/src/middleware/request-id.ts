import { randomUUID } from "node:crypto";
import type { HttpBindings } from "@hono/node-server";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../http/env.ts";

const SANE = /^[\w.:-]{1,128}$/;

/** Echoes a caller's `x-request-id` when it is sane, else makes one; every response carries it. */
export const requestId: MiddlewareHandler<AppEnv & { Bindings: HttpBindings }> = async (c, next) => {
  const given = c.req.header("x-request-id");
  // randomUUID draws from a pooled buffer; randomBytes costs a system call per request.
  const id = given && SANE.test(given) ? given : `req_${randomUUID()}`;
  c.set("requestId", id);
  const outgoing = (c.env as HttpBindings | undefined)?.outgoing;
  if (outgoing) {
    // Served by Node: set on Node's response, which merges it into whatever the answer carries.
    // The answer's own headers then stay a plain object that @hono/node-server writes as it is;
    // c.header would start a WHATWG Headers on every request, converted back at the end.
    outgoing.setHeader("x-request-id", id);
    return next();
  }
  c.header("x-request-id", id);
  await next();
  // A route that answers with a Response of its own (proxy, passthrough) bypasses c.header.
  if (!c.res.headers.has("x-request-id")) {
    try {
      c.res.headers.set("x-request-id", id);
    } catch {
      // An upstream Response's headers are immutable: answer with a copy that can carry the id.
      c.res = new Response(c.res.body, c.res);
      c.res.headers.set("x-request-id", id);
    }
  }
};
