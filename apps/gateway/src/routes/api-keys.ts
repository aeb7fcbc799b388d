import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { type ApiKey, apiKeyScopes } from "@unifold/db";
import { Failure } from "../domain/failure.ts";
import { requireScope } from "../middleware/auth.ts";
import { keysetPage } from "../domain/cursor.ts";
import { listEnvelope } from "../http/envelope.ts";
import { commonErrors, IdParam, json, listOf, pageQuery } from "../schemas.ts";
import type { AppEnv } from "../http/env.ts";

const ApiKeySchema = z
  .object({
    id: z.string().uuid(),
    name: z.string(),
    scope: z.enum(apiKeyScopes),
    tenant_id: z.string().nullable(),
    prefix: z.string().openapi({ description: "The secret's first characters, to tell keys apart." }),
    created_at: z.string(),
    revoked_at: z.string().nullable(),
  })
  .openapi("ApiKey");

const CreatedApiKeySchema = ApiKeySchema.extend({
  secret: z.string().openapi({ description: "Shown this once; only its SHA-256 is stored." }),
}).openapi("CreatedApiKey");

const CreateBody = z
  .object({
    name: z.string().min(1).max(200),
    scope: z.enum(apiKeyScopes),
    tenant_id: z.string().min(1).max(200).optional().openapi({ description: "Binds an `api` key to one tenant's connections." }),
  })
  .strict()
  .openapi("CreateApiKey");

const admin = [requireScope("admin")];

export function registerApiKeys(app: OpenAPIHono<AppEnv>) {
  app.openapi(
    createRoute({
      method: "post",
      path: "/api-keys",
      tags: ["API keys"],
      summary: "Create an API key (the secret is shown once)",
      middleware: admin,
      request: { body: { content: { "application/json": { schema: CreateBody } }, required: true } },
      responses: { 201: json(CreatedApiKeySchema, "The key with its secret"), ...commonErrors },
    }),
    async (c) => {
      const body = c.req.valid("json");
      if (body.scope === "admin" && body.tenant_id) {
        throw new Failure("invalid_request", "tenant_id binds api keys only; admin keys reach every tenant", {
          details: [{ path: "tenant_id", message: "not allowed with scope admin" }],
        });
      }
      const { key, secret } = await c
        .get("services")
        .access.apiKeys.create({ name: body.name, scope: body.scope, tenantId: body.tenant_id ?? null });
      return c.json({ ...present(key), secret }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api-keys",
      tags: ["API keys"],
      summary: "List API keys (never their secrets)",
      middleware: admin,
      request: { query: z.object(pageQuery) },
      responses: { 200: json(listOf(ApiKeySchema), "A page of API keys"), ...commonErrors },
    }),
    async (c) => {
      const {
        platform: { cursors },
        access: { apiKeys },
      } = c.get("services");
      const { limit, cursor } = c.req.valid("query");
      const page = await keysetPage(cursors, "api-keys", cursor, (after) => apiKeys.list({ after, limit }));
      return c.json(listEnvelope(page.rows.map(present), page.next_cursor), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api-keys/{id}",
      tags: ["API keys"],
      summary: "Revoke an API key",
      middleware: admin,
      request: { params: IdParam },
      responses: { 200: json(ApiKeySchema, "The revoked key"), ...commonErrors },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const key = await c.get("services").access.apiKeys.revoke(id);
      if (!key) throw new Failure("not_found", `no API key with id ${id}`);
      return c.json(present(key), 200);
    },
  );
}

function present(key: ApiKey) {
  return {
    id: key.id,
    name: key.name,
    scope: key.scope,
    tenant_id: key.tenantId,
    prefix: key.prefix,
    created_at: key.createdAt.toISOString(),
    revoked_at: key.revokedAt?.toISOString() ?? null,
  };
}
