import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { eventTypes, presentEvent } from "../domain/events/index.ts";
import { type AppEnv, callerOf } from "../http/env.ts";
import { listEnvelope } from "../http/envelope.ts";
import { requireScope } from "../middleware/auth.ts";
import { commonErrors, EventSchema, json, listOf } from "../schemas.ts";

const api = [requireScope("api")];

const EventPage = listOf(EventSchema)
  .extend({
    poll_cursor: z.string().openapi({ description: "Where to ask again later for newer events, even on the last page." }),
  })
  .openapi("EventPage");

export function registerEvents(app: OpenAPIHono<AppEnv>) {
  app.openapi(
    createRoute({
      method: "get",
      path: "/events",
      tags: ["Webhooks"],
      summary: "List events, oldest first: catch up from your last cursor without a re-sync",
      middleware: api,
      request: {
        query: z.object({
          after: z.string().max(1000).optional().openapi({ description: "A `next_cursor` or `poll_cursor` from an earlier page." }),
          type: z
            .string()
            .optional()
            .transform((v, ctx) => {
              const types = v?.split(",").filter(Boolean);
              const unknown = types?.find((t) => !(eventTypes as readonly string[]).includes(t));
              if (unknown) ctx.addIssue({ code: "custom", message: `unknown event type "${unknown}"` });
              return types;
            })
            .openapi({ description: "Comma-separated event types." }),
          connection_id: z.string().uuid().optional(),
          tenant_id: z.string().min(1).max(200).optional().openapi({ description: "With an admin key: one tenant's events." }),
          limit: z.coerce.number().int().min(1).max(500).default(100),
        }),
      },
      responses: { 200: json(EventPage, "A page of events"), ...commonErrors },
    }),
    async (c) => {
      const { after, type, connection_id, tenant_id, limit } = c.req.valid("query");
      const page = await c.get("services").events.list(callerOf(c), { after, types: type, connection_id, tenant_id, limit });
      return c.json(
        { ...listEnvelope(page.rows.map(presentEvent), page.has_more ? page.next_cursor : null), poll_cursor: page.next_cursor },
        200,
      );
    },
  );
}
