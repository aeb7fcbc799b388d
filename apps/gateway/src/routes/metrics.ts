import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../http/env.ts";
import { requireScope } from "../middleware/auth.ts";

/** `GET /metrics`: Prometheus text, for an admin key. */
export function registerMetrics(app: OpenAPIHono<AppEnv>) {
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/metrics",
    tags: ["Monitoring"],
    summary: "Get Prometheus metrics (admin key)",
    responses: { 200: { description: "Prometheus text exposition format", content: { "text/plain": { schema: { type: "string" } } } } },
  });
  app.get("/metrics", requireScope("admin"), async (c) => {
    const { registry } = c.get("services").platform.metrics;
    return c.body(await registry.metrics(), 200, { "content-type": registry.contentType });
  });
}
