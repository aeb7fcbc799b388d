import type { MiddlewareHandler } from "hono";
import type { Logger } from "pino";
import type { AppEnv } from "../http/env.ts";

// The access line is a fixed list of fields, none under a key the logger redacts, so it skips the
// redaction pass (~8 µs a line, the most of what logging a request cost) that guards free-form calls.
const unredacted = new WeakMap<Logger, Logger>();
function accessLoggerOf(logger: Logger): Logger {
  let child = unredacted.get(logger);
  if (!child) unredacted.set(logger, (child = logger.child({}, { redact: { paths: [] } })));
  return child;
}

/** One JSON line per request: no headers, no query, no bodies, so no secrets to leak. */
export const accessLog: MiddlewareHandler<AppEnv> = async (c, next) => {
  const started = performance.now();
  await next();
  accessLoggerOf(c.get("services").platform.logger).info(
    {
      request_id: c.get("requestId"),
      method: c.req.method,
      // A connect link's token opens the page: it is a secret, so the log keeps only its first characters.
      path: c.req.path.replace(/(\/connect\/ucs_[\w-]{4})[\w-]+/, "$1…"),
      status: c.res.status,
      duration_ms: Math.round((performance.now() - started) * 100) / 100,
      api_key_id: c.get("apiKey")?.id,
      // Which connection and vendor the request reached, and how long the upstream part took
      // (calls and mapping) next to the whole request's duration_ms.
      connection_id: c.get("upstream")?.connectionId,
      integration: c.get("upstream")?.integration,
      upstream_ms: c.get("upstream")?.ms,
      upstream_status: c.get("upstream")?.status,
    },
    "request",
  );
};
