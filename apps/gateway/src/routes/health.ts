import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { json } from "../schemas.ts";
import type { AppEnv } from "../http/env.ts";

const HealthSchema = z.object({ status: z.enum(["ok", "degraded"]), db: z.enum(["ok", "down"]) }).openapi("Health");

export function registerHealth(app: OpenAPIHono<AppEnv>) {
  app.openapi(
    createRoute({
      method: "get",
      path: "/health",
      tags: ["Monitoring"],
      summary: "Liveness with a database check",
      // The one route without a key (besides the document and the reference page).
      security: [],
      responses: { 200: json(HealthSchema, "Healthy"), 503: json(HealthSchema, "The database is unreachable") },
    }),
    async (c) => {
      try {
        await c.get("services").platform.store.ping();
        return c.json({ status: "ok" as const, db: "ok" as const }, 200);
      } catch {
        return c.json({ status: "degraded" as const, db: "down" as const }, 503);
      }
    },
  );
}
