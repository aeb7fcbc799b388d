import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { syncableResources } from "../domain/events/index.ts";
import { type AppEnv, callerOf } from "../http/env.ts";
import { listEnvelope } from "../http/envelope.ts";
import { requireScope } from "../middleware/auth.ts";
import { commonErrors, instant, json, listOf } from "../schemas.ts";

const RecordSchema = z
  .object({
    id: z.string(),
    version: z.number().int(),
    first_seen_at: z.string(),
    last_seen_at: z.string().openapi({
      description:
        "The latest time the record is known to have been upstream: the later of its last change and the start of the latest completed run of its sync (which saw every record it left live). A tombstone keeps that time as it was when the record was found gone. For a pushed (SCIM) copy, its last change.",
    }),
    modified_at: z.string(),
    deleted_at: z.string().nullable().openapi({ description: "Set on a tombstone: the record is gone upstream." }),
    data: z
      .record(z.string(), z.unknown())
      .openapi({ description: "The unified object as last seen (its last known form for a tombstone)." }),
  })
  .openapi("SyncedRecord");

/** `GET /unified/records/{resource}`: the synced copy a sync keeps, read without calling the vendor. */
export function registerRecords(app: OpenAPIHono<AppEnv>) {
  const resources = Object.keys(syncableResources) as [keyof typeof syncableResources, ...(keyof typeof syncableResources)[]];
  app.openapi(
    createRoute({
      method: "get",
      path: "/unified/records/{resource}",
      tags: ["Syncs"],
      summary: "List the synced copy of a resource, read without calling the vendor; deletions as tombstones",
      middleware: [requireScope("api")],
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
      const page = await c.get("services").syncs.records(callerOf(c), c.req.valid("param").resource, c.req.valid("query"));
      return c.json(listEnvelope(page.rows, page.next_cursor), 200);
    },
  );
}
