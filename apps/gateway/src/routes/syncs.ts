import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { Deleted } from "@unifold/engine";
import { syncableResources } from "../domain/events/index.ts";
import { presentRun, presentSync } from "../domain/syncs/index.ts";
import { type AppEnv, callerOf } from "../http/env.ts";
import { listEnvelope } from "../http/envelope.ts";
import { requireScope } from "../middleware/auth.ts";
import { commonErrors, IdParam, json, listOf, pageQuery } from "../schemas.ts";

const resources = Object.keys(syncableResources) as [keyof typeof syncableResources, ...(keyof typeof syncableResources)[]];

const SyncSchema = z
  .object({
    id: z.string().uuid(),
    tenant_id: z.string(),
    connection_id: z.string().uuid(),
    resources: z.array(z.string()),
    interval: z.number().int().openapi({ description: "Seconds between runs." }),
    initial_events: z.boolean().openapi({ description: "Whether the first complete run announces every record." }),
    full_interval: z.number().int().openapi({
      description: "Where the integration reads only changes (`delta`): seconds between full walks, which alone find every deletion.",
    }),
    status: z.enum(["active", "paused"]),
    next_run_at: z.string(),
    created_at: z.string(),
  })
  .openapi("Sync");

const RunSchema = z
  .object({
    id: z.string().uuid(),
    sync_id: z.string().uuid(),
    status: z.enum(["running", "succeeded", "failed"]),
    started_at: z.string(),
    ended_at: z.string().nullable(),
    counts: z.record(z.string(), z.number()).openapi({
      description: "added, updated, deleted, unchanged; full_walks and delta_reads: how each resource was read",
    }),
    error: z.string().nullable(),
  })
  .openapi("SyncRun");

const CreateBody = z
  .object({
    connection_id: z.string().min(1).max(200),
    resources: z.array(z.enum(resources)).min(1).max(resources.length),
    interval: z
      .number()
      .int()
      .min(60, "must be at least 60 seconds")
      .max(30 * 86_400)
      .default(3_600)
      .openapi({ description: "Seconds between runs: at least 60, 3600 by default." }),
    initial_events: z.boolean().default(true).openapi({
      description:
        "false: until a run completes, records are copied without events (read them from /unified/records); only changes after that are announced.",
    }),
    full_interval: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400)
      .default(86_400)
      .openapi({
        description:
          "Where the integration reads only what changed (its `delta`), seconds between full walks: a run reads every record again once this long has passed since the last full walk, which finds deletions a delta cannot show. 0: every run walks everything. 86400 by default.",
      }),
  })
  .strict()
  .openapi("CreateSync");

const api = [requireScope("api")];

export function registerSyncs(app: OpenAPIHono<AppEnv>) {
  app.openapi(
    createRoute({
      method: "post",
      path: "/syncs",
      tags: ["Syncs"],
      summary: "Keep a copy of a connection's resources; the first run starts at once",
      middleware: api,
      request: { body: { content: { "application/json": { schema: CreateBody } }, required: true } },
      responses: { 201: json(SyncSchema, "The sync"), ...commonErrors },
    }),
    async (c) => c.json(presentSync(await c.get("services").syncs.create(callerOf(c), c.req.valid("json"))), 201),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/syncs",
      tags: ["Syncs"],
      summary: "List syncs",
      middleware: api,
      request: { query: z.object(pageQuery) },
      responses: { 200: json(listOf(SyncSchema), "A page of syncs"), ...commonErrors },
    }),
    async (c) => {
      const page = await c.get("services").syncs.list(callerOf(c), c.req.valid("query"));
      return c.json(listEnvelope(page.rows.map(presentSync), page.next_cursor), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/syncs/{id}",
      tags: ["Syncs"],
      summary: "Get a sync",
      middleware: api,
      request: { params: IdParam },
      responses: { 200: json(SyncSchema, "The sync"), ...commonErrors },
    }),
    async (c) => c.json(presentSync(await c.get("services").syncs.find(callerOf(c), c.req.valid("param").id)), 200),
  );

  for (const [action, status] of [
    ["pause", "paused"],
    ["resume", "active"],
  ] as const) {
    app.openapi(
      createRoute({
        method: "post",
        path: `/syncs/{id}/${action}`,
        tags: ["Syncs"],
        summary: action === "pause" ? "Pause a sync (no more runs until resumed)" : "Resume a paused sync",
        middleware: api,
        request: { params: IdParam },
        responses: { 200: json(SyncSchema, "The sync"), ...commonErrors },
      }),
      async (c) => c.json(presentSync(await c.get("services").syncs.setStatus(callerOf(c), c.req.valid("param").id, status)), 200),
    );
  }

  app.openapi(
    createRoute({
      method: "delete",
      path: "/syncs/{id}",
      tags: ["Syncs"],
      summary: "Delete a sync (its synced records and events stay until their retention ends)",
      middleware: api,
      request: { params: IdParam },
      responses: { 200: json(Deleted, "Deleted"), ...commonErrors },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await c.get("services").syncs.remove(callerOf(c), id);
      return c.json({ id, outcome: "deleted" as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/syncs/{id}/run",
      tags: ["Syncs"],
      summary: "Run a sync now (202; a run already queued or running is not doubled)",
      middleware: api,
      request: { params: IdParam },
      responses: { 202: json(z.object({ queued: z.boolean() }), "Whether a new run was queued"), ...commonErrors },
    }),
    async (c) => c.json({ queued: await c.get("services").syncs.runNow(callerOf(c), c.req.valid("param").id) }, 202),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/syncs/{id}/runs",
      tags: ["Syncs"],
      summary: "List a sync's runs, oldest first: status, counts and the error of a failed one",
      middleware: api,
      request: { params: IdParam, query: z.object(pageQuery) },
      responses: { 200: json(listOf(RunSchema), "A page of runs"), ...commonErrors },
    }),
    async (c) => {
      const page = await c.get("services").syncs.runs(callerOf(c), c.req.valid("param").id, c.req.valid("query"));
      return c.json(listEnvelope(page.rows.map(presentRun), page.next_cursor), 200);
    },
  );
}
