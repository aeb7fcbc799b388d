import { OpenAPIHono } from "@hono/zod-openapi";
import { isConnectionLost } from "@unifold/db";
import { Failure } from "./domain/failure.ts";
import { errorResponse, scimErrorResponse } from "./errors.ts";
import { loggable } from "./logger.ts";
import type { AppEnv } from "./http/env.ts";
import { accessLog } from "./middleware/access-log.ts";
import { bodyLimits } from "./middleware/body-limit.ts";
import { jsonBodies } from "./middleware/json-body.ts";
import { passthroughGuard } from "./middleware/passthrough-guard.ts";
import { requestId } from "./middleware/request-id.ts";
import { requestMetrics } from "./middleware/request-metrics.ts";
import { registerApiKeys } from "./routes/api-keys.ts";
import { registerBatch } from "./routes/batch.ts";
import { registerConnect } from "./routes/connect.ts";
import { registerConnections } from "./routes/connections.ts";
import { registerDocs } from "./routes/docs.ts";
import { registerEncryptionKeys } from "./routes/encryption-keys.ts";
import { registerHealth } from "./routes/health.ts";
import { registerIntegrations } from "./routes/integrations.ts";
import { registerMetrics } from "./routes/metrics.ts";
import { registerPassthrough } from "./routes/passthrough.ts";
import { registerProxy } from "./routes/proxy.ts";
import { registerEvents } from "./routes/events.ts";
import { registerRecords } from "./routes/records.ts";
import { registerScim } from "./routes/scim.ts";
import { registerSyncs } from "./routes/syncs.ts";
import { registerUnified } from "./routes/unified.ts";
import { registerWebhooks } from "./routes/webhooks.ts";
import { registerWrites } from "./routes/writes.ts";
import type { Services } from "./services.ts";

export { createServices, type Services } from "./services.ts";

/** Builds the gateway over the given services; no globals, so tests build it with their own. */
export function createApp(services: Services) {
  const app = new OpenAPIHono<AppEnv>({
    // Every zod failure on a route becomes the contract's 400 invalid_request with details.
    defaultHook: (result) => {
      if (!result.success) throw Failure.fromZod(result.error, result.target === "json" ? undefined : result.target);
    },
  });

  app.use("*", async (c, next) => {
    c.set("services", services);
    await next();
  });
  app.use("*", requestId);
  app.use("*", requestMetrics);
  app.use("*", accessLog);
  app.use("*", bodyLimits);
  app.use("*", passthroughGuard);
  app.use("*", jsonBodies);

  registerHealth(app);
  registerDocs(app);
  registerMetrics(app);
  registerIntegrations(app);
  registerConnections(app);
  registerConnect(app);
  registerApiKeys(app);
  registerEncryptionKeys(app);
  registerSyncs(app);
  registerWebhooks(app);
  registerEvents(app);
  registerRecords(app);
  registerUnified(app);
  registerWrites(app);
  registerBatch(app);
  registerProxy(app);
  registerPassthrough(app);
  registerScim(app);

  app.notFound((c) => {
    throw new Failure("not_found", `no route ${c.req.method} ${c.req.path}`);
  });

  app.onError((thrown, c) => {
    const requestId = c.get("requestId") ?? "req_unknown";
    // The database going away is no bug of ours: a 503 the caller may retry (a write with its
    // Idempotency-Key), logged as a warning with the driver's code.
    const lost = isConnectionLost(thrown);
    if (lost) services.platform.logger.warn({ request_id: requestId, err: loggable(thrown) }, "the database connection failed mid-request");
    const error = lost
      ? new Failure("unavailable", "the gateway's database connection failed; retry the request (a write with the same Idempotency-Key)")
      : thrown;
    // The SCIM service answers in its own error shape (RFC 7644 §3.12), whatever failed.
    if (c.req.path.startsWith("/scim/v2/")) {
      const known = scimErrorResponse(error);
      if (!known) services.platform.logger.error({ request_id: requestId, err: loggable(error) }, "unhandled error");
      const scim = known ?? scimErrorResponse(new Failure("internal_error", `something went wrong on our side (request ${requestId})`))!;
      return c.body(JSON.stringify(scim.body), scim.status as 400, {
        ...scim.headers,
        "content-type": "application/scim+json; charset=utf-8",
      });
    }
    const answer = (failure: Failure) => {
      const { status, body } = errorResponse(failure, requestId);
      return c.json(body, status);
    };
    if (error instanceof Failure) {
      for (const [name, value] of Object.entries(error.extra.headers ?? {})) c.header(name, value);
      return answer(error);
    }
    // Malformed JSON bodies surface from the validator as a SyntaxError.
    if (error instanceof SyntaxError || (error as { status?: number }).status === 400) {
      return answer(new Failure("invalid_request", "the request body is not valid JSON"));
    }
    services.platform.logger.error({ request_id: requestId, err: loggable(error) }, "unhandled error");
    return answer(new Failure("internal_error", "something went wrong on our side; quote the request id when reporting it"));
  });

  return app;
}
