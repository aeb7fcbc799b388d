import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { ApiError } from "./errors.ts";
import { accessLog } from "./middleware/access-log.ts";
import { registerMetrics, requestMetrics } from "./metrics.ts";
import { jsonBodies } from "./middleware/json-body.ts";
import { requestId } from "./middleware/request-id.ts";
import { registerApiKeys } from "./routes/api-keys.ts";
import { registerConnections } from "./routes/connections.ts";
import { registerDocs } from "./routes/docs.ts";
import { registerEncryptionKeys } from "./routes/encryption-keys.ts";
import { registerHealth } from "./routes/health.ts";
import { registerIntegrations } from "./routes/integrations.ts";
import { passthroughGuard, registerPassthrough } from "./routes/passthrough.ts";
import { registerProxy } from "./routes/proxy.ts";
import { registerUnified } from "./routes/unified.ts";
import { registerWrites } from "./routes/writes.ts";
import { registerBatch } from "./routes/batch.ts";
import type { AppEnv, Services } from "./services.ts";

export type { Services } from "./services.ts";

export const MAX_BODY_BYTES = 1024 * 1024;

/** Builds the gateway over the given services; no globals, so tests build it with their own. */
export function createApp(services: Services) {
  const app = new OpenAPIHono<AppEnv>({
    // Every zod failure on a route becomes the contract's 400 invalid_request with details.
    defaultHook: (result) => {
      if (!result.success) throw ApiError.fromZod(result.error, result.target === "json" ? undefined : result.target);
    },
  });

  app.use("*", async (c, next) => {
    c.set("services", services);
    await next();
  });
  app.use("*", requestId);
  app.use("*", requestMetrics);
  app.use("*", accessLog);
  const limiter = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      // The rest of the upload is never read, so this socket cannot carry another request.
      throw new ApiError("payload_too_large", `the request body is over ${MAX_BODY_BYTES / 1024 / 1024} MB`, {
        headers: { connection: "close" },
      });
    },
  });
  // GET and HEAD carry no body; skipping them spares building a full Request on the hot read path.
  app.use("*", (c, next) => (c.req.method === "GET" || c.req.method === "HEAD" ? next() : limiter(c, next)));

  app.use("*", passthroughGuard);
  app.use("*", jsonBodies);

  registerHealth(app);
  registerDocs(app);
  registerMetrics(app);
  registerIntegrations(app);
  registerConnections(app);
  registerApiKeys(app);
  registerEncryptionKeys(app);
  registerUnified(app);
  registerWrites(app);
  registerBatch(app);
  registerProxy(app);
  registerPassthrough(app);

  app.notFound((c) => {
    throw new ApiError("not_found", `no route ${c.req.method} ${c.req.path}`);
  });

  app.onError((error, c) => {
    const requestId = c.get("requestId") ?? "req_unknown";
    if (error instanceof ApiError) {
      for (const [name, value] of Object.entries(error.extra.headers ?? {})) c.header(name, value);
      return c.json(error.toBody(requestId), error.status);
    }
    // Malformed JSON bodies surface from the validator as a SyntaxError.
    if (error instanceof SyntaxError || (error as { status?: number }).status === 400) {
      const invalid = new ApiError("invalid_request", "the request body is not valid JSON");
      return c.json(invalid.toBody(requestId), invalid.status);
    }
    services.logger.error(
      { request_id: requestId, err: { name: error.name, message: error.message, stack: error.stack } },
      "unhandled error",
    );
    const internal = new ApiError("internal_error", "something went wrong on our side; quote the request id when reporting it");
    return c.json(internal.toBody(requestId), internal.status);
  });

  return app;
}
