import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../http/env.ts";

/** Counts and times every request by its route pattern (never the raw path: ids would explode the series). */
export const requestMetrics: MiddlewareHandler<AppEnv> = async (c, next) => {
  const started = performance.now();
  await next();
  const { metrics } = c.get("services").platform;
  // The route pattern of the handler that answered (middleware is registered as ALL *).
  const route = c.req.matchedRoutes.filter((r) => r.method !== "ALL").at(-1)?.path ?? "unmatched";
  metrics.requests.inc({ method: c.req.method, route, status: String(c.res.status) });
  metrics.requestSeconds.observe({ method: c.req.method, route }, (performance.now() - started) / 1000);
};
