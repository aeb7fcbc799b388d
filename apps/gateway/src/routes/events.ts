import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { listRecords } from "../domain/records.ts";
import { eventTypes, syncableResources } from "../domain/events.ts";
import { listEvents, presentEvent } from "../domain/webhooks.ts";
import { depsOf, type AppEnv } from "../http/env.ts";
import { listEnvelope } from "../http/envelope.ts";
import { requireScope } from "../middleware/auth.ts";
import { commonErrors, EventSchema, instant, json, listOf } from "../schemas.ts";

const api = [requireScope("api")];

const EventPage = listOf(EventSchema)
  .extend({
    poll_cursor: z.string().openapi({ description: "Where to ask again later for newer events, even on the last page." }),
  })
  .openapi("EventPage");

const RecordSchema = z
  .object({
    id: z.string(),
    version: z.number().int(),
    first_seen_at: z.string(),
    last_seen_at: z.string(),
    modified_at: z.string(),
    deleted_at: z.string().nullable().openapi({ description: "Set on a tombstone: the record is gone upstream." }),
    data: z
      .record(z.string(), z.unknown())
      .openapi({ description: "The unified object as last seen (its last known form for a tombstone)." }),
  })
  .openapi("SyncedRecord");

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
      const page = await listEvents(depsOf(c), { after, types: type, connection_id, tenant_id, limit });
      return c.json(
        { ...listEnvelope(page.rows.map(presentEvent), page.has_more ? page.next_cursor : null), poll_cursor: page.next_cursor },
        200,
      );
    },
  );

  const resources = Object.keys(syncableResources) as [keyof typeof syncableResources, ...(keyof typeof syncableResources)[]];
  app.openapi(
    createRoute({
      method: "get",
      path: "/unified/records/{resource}",
      tags: ["Syncs"],
      summary: "List the synced copy of a resource, read without calling the vendor; deletions as tombstones",
      middleware: api,
      request: {
        params: z.object({ resource: z.enum(resources).openapi({ param: { name: "resource", in: "path" } }) }),
        query: z.object({
          connection_id: z.string().min(1).max(200),
          modified_after: instant.optional(),
          cursor: z.string().max(1000).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
        }),
      },
      responses: { 200: json(listOf(RecordSchema).openapi("SyncedRecordPage"), "A page of records"), ...commonErrors },
    }),
    async (c) => {
      const page = await listRecords(depsOf(c), c.req.valid("param").resource, c.req.valid("query"));
      return c.json(listEnvelope(page.rows, page.next_cursor), 200);
    },
  );
}
