import { bodyLimit } from "hono/body-limit";
import type { MiddlewareHandler } from "hono";
import { Failure } from "../domain/failure.ts";
import type { AppEnv } from "../http/env.ts";

export const MAX_BODY_BYTES = 1024 * 1024;

const limiter = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    // The rest of the upload is never read, so this socket cannot carry another request.
    throw new Failure("payload_too_large", `the request body is over ${MAX_BODY_BYTES / 1024 / 1024} MB`, {
      headers: { connection: "close" },
    });
  },
});

/** Request bodies over 1 MB are refused with 413 before they are read whole. */
export const bodyLimits: MiddlewareHandler<AppEnv> = (c, next) =>
  // GET and HEAD carry no body; skipping them spares building a full Request on the hot read path.
  c.req.method === "GET" || c.req.method === "HEAD" ? next() : limiter(c, next);
