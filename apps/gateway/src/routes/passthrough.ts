import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { Failure } from "../domain/failure.ts";
import { type AppEnv, callerOf } from "../http/env.ts";
import { relayedResponse, relayRequestOf } from "../http/relayed.ts";
import { requireScope } from "../middleware/auth.ts";
import { noIdempotencyKey } from "../middleware/idempotency.ts";
import { rawPassthroughPath } from "../middleware/passthrough-guard.ts";
import { commonErrors, upstreamErrors } from "../schemas.ts";

const connectionQuery = z.object({ connection_id: z.string().min(1).max(100) });

/** `/passthrough/{path}`: any call under the connection's base URL, with its auth injected. */
export function registerPassthrough(app: OpenAPIHono<AppEnv>) {
  for (const method of ["get", "post", "put", "patch", "delete"] as const) {
    app.openAPIRegistry.registerPath({
      method,
      path: "/passthrough/{path}",
      tags: ["Passthrough"],
      summary: `${method.toUpperCase()} <base_url>/<path> with the connection's auth injected`,
      request: {
        params: z.object({
          path: z
            .string()
            .openapi({ param: { name: "path", in: "path" }, description: "Under the connection's base URL; may hold slashes" }),
        }),
        query: z.object({ connection_id: z.string() }).passthrough(),
      },
      responses: {
        200: { description: "The upstream's answer: status, body and content headers as they are" },
        ...commonErrors,
        ...upstreamErrors,
      },
    });
  }
  app.on(["GET", "POST", "PUT", "PATCH", "DELETE"], "/passthrough/*", requireScope("api"), noIdempotencyKey, async (c) => {
    const parsed = connectionQuery.safeParse({ connection_id: c.req.query("connection_id") });
    if (!parsed.success) throw Failure.fromZod(parsed.error, "query");
    const relayed = await c
      .get("services")
      .unified.passthrough(callerOf(c), parsed.data.connection_id, rawPassthroughPath(c) ?? "", await relayRequestOf(c));
    return relayedResponse(relayed);
  });
}
