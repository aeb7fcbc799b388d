import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { connectionStatuses } from "@unifold/db";
import { Deleted } from "@unifold/engine";
import { type AppEnv, callerOf } from "../http/env.ts";
import { publicOrigin } from "../http/origin.ts";
import { listEnvelope } from "../http/envelope.ts";
import { requireScope } from "../middleware/auth.ts";
import { commonErrors, IdParam, json, listOf, pageQuery, upstreamErrors } from "../schemas.ts";

export const ConnectionSchema = z
  .object({
    id: z.string().uuid(),
    tenant_id: z.string(),
    integration: z.string(),
    name: z.string().nullable(),
    status: z.enum(connectionStatuses),
    config: z.record(z.string(), z.unknown()),
    created_at: z.string(),
    updated_at: z.string(),
    last_verified_at: z.string().nullable(),
  })
  .openapi("Connection");

const tenantId = z.string().min(1).max(200);
const credentialsInput = z.record(z.string(), z.string().min(1).max(4096)).openapi({ description: "The integration's credential fields." });
const configInput = z
  .record(z.string(), z.union([z.string().max(2048), z.null()]))
  .openapi({ description: "`base_url` and the integration's config fields; null removes a value." });

const CreateBody = z
  .object({
    tenant_id: tenantId,
    integration: z.string().min(1).max(100),
    credentials: credentialsInput
      .optional()
      .openapi({ description: "The integration's credential fields; none for a directory that pushes (SCIM)." }),
    config: configInput.optional(),
    name: z.string().min(1).max(200).optional(),
  })
  .strict()
  .openapi("CreateConnection");

const CreatedConnection = ConnectionSchema.extend({
  scim: z
    .object({
      base_url: z.string().openapi({ description: "Paste into the identity provider as the SCIM base URL (tenant URL)." }),
      token: z.string().openapi({ description: "The bearer token the identity provider sends; shown once, stored hashed." }),
    })
    .optional()
    .openapi({ description: "Only for a directory that pushes (integration `scim`)." }),
}).openapi("CreatedConnection");

const ScimRequestSchema = z
  .object({
    at: z.string(),
    method: z.string(),
    path: z.string().openapi({ description: "Under the connection's SCIM base URL, without the query." }),
    status: z.number().int(),
    scim_type: z.string().nullable(),
    detail: z.string().nullable().openapi({ description: "The service's own words for a refusal." }),
    resource_id: z.string().nullable(),
    latency_ms: z.number().int(),
  })
  .openapi("ScimRequest");

const TokenBody = z
  .object({
    overlap_seconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400)
      .default(0)
      .openapi({ description: "How long the tokens it replaces keep working; 0 stops them now." }),
  })
  .strict();

const PatchBody = z
  .object({
    name: z.string().min(1).max(200).nullable().optional(),
    config: configInput.optional(),
    credentials: credentialsInput.optional(),
    status: z.enum(["active", "disabled"]).optional().openapi({ description: "`disabled` stops use; `active` re-verifies." }),
    allow_account_change: z.boolean().optional().openapi({
      description:
        "New credentials that open another upstream account than the connection's are refused (409) unless this is true; its next sync then reports the old account's users as deleted and the new one's as created.",
    }),
  })
  .strict()
  .openapi("PatchConnection");

const VerifyQuery = z.object({
  verify: z.enum(["true", "false"]).default("true").openapi({ description: "`false` skips the upstream check." }),
});

const admin = [requireScope("admin")];

export function registerConnections(app: OpenAPIHono<AppEnv>) {
  app.openapi(
    createRoute({
      method: "post",
      path: "/connections",
      tags: ["Connections"],
      summary: "Register a connection",
      middleware: admin,
      request: { query: VerifyQuery, body: { content: { "application/json": { schema: CreateBody } }, required: true } },
      responses: {
        201: json(CreatedConnection, "The connection (and, for a directory that pushes, its SCIM base URL and token)"),
        ...commonErrors,
        ...upstreamErrors,
      },
    }),
    async (c) => {
      const { connections, scim } = c.get("services");
      const body = c.req.valid("json");
      if (scim.pushes(body.integration)) {
        const made = await scim.connect(callerOf(c), body, publicOrigin(c));
        return c.json({ ...connections.present(made.connection), scim: made.scim }, 201);
      }
      const { connection } = await connections.create(
        callerOf(c),
        { ...body, credentials: body.credentials ?? {} },
        c.req.valid("query").verify === "true",
      );
      return c.json(connections.present(connection), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/connections/{id}/scim-requests",
      tags: ["Connections"],
      summary: "List the SCIM requests a pushed directory's identity provider made, newest first",
      description:
        "Every request its identity provider made: time, method, path (no query), status, scimType and the service's own words for a refusal, the resource it touched, and its latency. No bodies and no tokens; kept UNIFOLD_SCIM_LOG_RETENTION_DAYS days.",
      middleware: admin,
      request: { params: IdParam, query: z.object(pageQuery) },
      responses: { 200: json(listOf(ScimRequestSchema), "A page of the log"), ...commonErrors },
    }),
    async (c) => {
      const page = await c.get("services").scim.requests(callerOf(c), c.req.valid("param").id, c.req.valid("query"));
      const rows = page.rows.map((row) => ({
        at: row.at.toISOString(),
        method: row.method,
        path: row.path,
        status: row.status,
        scim_type: row.scimType,
        detail: row.detail,
        resource_id: row.resourceId,
        latency_ms: row.latencyMs,
      }));
      return c.json(listEnvelope(rows, page.next_cursor), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/connections/{id}/scim-token",
      tags: ["Connections"],
      summary: "Issue a new SCIM token for a directory that pushes",
      description: "The new token is shown once. Tokens it replaces keep working for `overlap_seconds` (0: they stop at once).",
      middleware: admin,
      request: { params: IdParam, body: { content: { "application/json": { schema: TokenBody } }, required: false } },
      responses: {
        201: json(z.object({ token: z.string(), previous_valid_until: z.string() }).openapi("ScimToken"), "The new token"),
        ...commonErrors,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const overlap = (c.req.valid("json") as z.infer<typeof TokenBody> | undefined)?.overlap_seconds ?? 0;
      const token = await c.get("services").scim.issueToken(callerOf(c), id, overlap);
      return c.json({ token, previous_valid_until: new Date(Date.now() + overlap * 1000).toISOString() }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/connections",
      tags: ["Connections"],
      summary: "List connections",
      middleware: admin,
      request: {
        query: z.object({
          tenant_id: tenantId.optional(),
          integration: z.string().max(100).optional(),
          status: z.enum(connectionStatuses).optional(),
          ...pageQuery,
        }),
      },
      responses: { 200: json(listOf(ConnectionSchema), "A page of connections"), ...commonErrors },
    }),
    async (c) => {
      const { connections } = c.get("services");
      const { limit, cursor, ...filter } = c.req.valid("query");
      const page = await connections.list(callerOf(c), filter, limit, cursor);
      const rows = page.rows.map((row) => connections.present(row));
      return c.json(listEnvelope(rows, page.next_cursor), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/connections/{id}",
      tags: ["Connections"],
      summary: "Get a connection",
      middleware: admin,
      request: { params: IdParam },
      responses: { 200: json(ConnectionSchema, "The connection"), ...commonErrors },
    }),
    async (c) => {
      const { connections } = c.get("services");
      return c.json(connections.present(await connections.get(callerOf(c), c.req.valid("param").id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/connections/{id}",
      tags: ["Connections"],
      summary: "Change a connection's name, config, credentials or status",
      middleware: admin,
      request: { params: IdParam, query: VerifyQuery, body: { content: { "application/json": { schema: PatchBody } }, required: true } },
      responses: { 200: json(ConnectionSchema, "The connection"), ...commonErrors, ...upstreamErrors },
    }),
    async (c) => {
      const { connections } = c.get("services");
      const verify = c.req.valid("query").verify === "true";
      const updated = await connections.patch(callerOf(c), c.req.valid("param").id, c.req.valid("json"), verify);
      return c.json(connections.present(updated), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/connections/{id}",
      tags: ["Connections"],
      summary: "Delete a connection and its credentials",
      middleware: admin,
      request: { params: IdParam },
      responses: { 200: json(Deleted, "Deleted"), ...commonErrors },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await c.get("services").connections.remove(callerOf(c), id);
      return c.json({ id, outcome: "deleted" as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/connections/{id}/verify",
      tags: ["Connections"],
      summary: "Verify a connection's credentials against the upstream",
      middleware: admin,
      request: { params: IdParam },
      responses: { 200: json(ConnectionSchema, "The connection with its new status"), ...commonErrors, ...upstreamErrors },
    }),
    async (c) => {
      const { connections } = c.get("services");
      return c.json(connections.present(await connections.reverify(callerOf(c), c.req.valid("param").id)), 200);
    },
  );
}
