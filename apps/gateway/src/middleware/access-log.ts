import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../services.ts";

/** One JSON line per request: no headers, no query, no bodies, so no secrets to leak. */
export const accessLog: MiddlewareHandler<AppEnv> = async (c, next) => {
  const started = performance.now();
  await next();
  const { logger } = c.var.services;
  logger.info(
    {
      request_id: c.var.requestId,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      duration_ms: Math.round((performance.now() - started) * 100) / 100,
      api_key_id: c.var.apiKey?.id,
      // Which connection and vendor the request reached, and how long the upstream part took
      // (calls and mapping) next to the whole request's duration_ms.
      connection_id: c.var.upstream?.connectionId,
      integration: c.var.upstream?.integration,
      upstream_ms: c.var.upstream?.ms,
      upstream_status: c.var.upstream?.status,
    },
    "request",
  );
};
