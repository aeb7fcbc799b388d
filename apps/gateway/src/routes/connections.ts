import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { type Connection, connectionStatuses } from "@unifold/db";
import { type Integration, UpstreamFailure, verifyConnection } from "@unifold/engine";
import { ApiError, type ErrorDetail, upstreamBody } from "../errors.ts";
import { requireScope } from "../middleware/auth.ts";
import { listEnvelope, openKeyset, pageQuery, sealKeyset } from "../pagination.ts";
import { Deleted } from "@unifold/engine";
import { commonErrors, IdParam, json, listOf, upstreamErrors } from "../schemas.ts";
import type { AppEnv, Services } from "../services.ts";

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
    credentials: credentialsInput,
    config: configInput.optional(),
    name: z.string().min(1).max(200).optional(),
  })
  .strict()
  .openapi("CreateConnection");

const PatchBody = z
  .object({
    name: z.string().min(1).max(200).nullable().optional(),
    config: configInput.optional(),
    credentials: credentialsInput.optional(),
    status: z.enum(["active", "disabled"]).optional().openapi({ description: "`disabled` stops use; `active` re-verifies." }),
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
      responses: { 201: json(ConnectionSchema, "The connection"), ...commonErrors, ...upstreamErrors },
    }),
    async (c) => {
      const services = c.get("services");
      const body = c.req.valid("json");
      const integration = services.integrations.get(body.integration);
      if (!integration) {
        throw new ApiError("invalid_request", `unknown integration "${body.integration}"`, {
          details: [{ path: "integration", message: `one of ${[...services.integrations.keys()].join(", ")}` }],
        });
      }
      const credentials = checkCredentials(integration, body.credentials);
      const config = checkConfig(integration, {}, body.config ?? {}, services.upstream.refusal);
      const verified = c.req.valid("query").verify === "true";
      if (verified) await verifyOrReject(services, integration, config, credentials);
      const connection = await services.connections.create({
        tenantId: body.tenant_id,
        integration: integration.slug,
        name: body.name ?? null,
        config,
        credentials,
        verifiedAt: verified ? new Date() : null,
      });
      return c.json(present(services, connection), 201);
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
      const services = c.get("services");
      const { limit, cursor, ...filters } = c.req.valid("query");
      const binding = `connections:${JSON.stringify([filters.tenant_id, filters.integration, filters.status])}`;
      const page = await services.connections.list({
        tenantId: filters.tenant_id,
        integration: filters.integration,
        status: filters.status,
        after: await openKeyset(services.cursors, binding, cursor),
        limit,
      });
      const next = await sealKeyset(services.cursors, binding, page.next);
      return c.json(
        listEnvelope(
          page.rows.map((row) => present(services, row)),
          next,
        ),
        200,
      );
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
      const services = c.get("services");
      return c.json(present(services, await mustGet(services, c.req.valid("param").id)), 200);
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
      const services = c.get("services");
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      const current = await mustGet(services, id);
      const integration = integrationOf(services, current);
      const credentials = body.credentials ? checkCredentials(integration, body.credentials) : undefined;
      const config = body.config ? checkConfig(integration, current.config, body.config, services.upstream.refusal) : undefined;
      // New credentials, a new address or a re-enable are checked against the upstream before they are saved.
      const mustVerify = c.req.valid("query").verify === "true" && (credentials || config || body.status === "active");
      if (mustVerify) {
        await verifyOrReject(services, integration, config ?? current.config, credentials ?? (await services.connections.credentials(id)));
      }
      const updated = await services.connections.update(id, {
        name: body.name,
        config,
        credentials,
        status: body.status ?? (mustVerify ? "active" : undefined),
        lastVerifiedAt: mustVerify ? new Date() : undefined,
      });
      if (!updated) throw notFound(id);
      return c.json(present(services, updated), 200);
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
      if (!(await c.get("services").connections.remove(id))) throw notFound(id);
      return c.json({ id, outcome: "deleted" as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/connections/{id}/verify",
      tags: ["Connections"],
      summary: "Check the credentials against the upstream",
      middleware: admin,
      request: { params: IdParam },
      responses: { 200: json(ConnectionSchema, "The connection with its new status"), ...commonErrors, ...upstreamErrors },
    }),
    async (c) => {
      const services = c.get("services");
      const { id } = c.req.valid("param");
      const current = await mustGet(services, id);
      const integration = integrationOf(services, current);
      const credentials = await services.connections.credentials(id);
      const { ok } = await callVerify(services, integration, current.config, credentials);
      const updated = await services.connections.update(id, {
        status: ok ? "active" : "needs_reauth",
        ...(ok && { lastVerifiedAt: new Date() }),
      });
      if (!updated) throw notFound(id);
      return c.json(present(services, updated), 200);
    },
  );
}

/** The connection as the API shows it: config with the base URL and every declared field. */
export function present(services: Services, connection: Connection) {
  const integration = services.integrations.get(connection.integration);
  const declared = Object.fromEntries(Object.keys(integration?.config ?? {}).map((name) => [name, null]));
  return {
    id: connection.id,
    tenant_id: connection.tenantId,
    integration: connection.integration,
    name: connection.name,
    status: connection.status,
    config: { base_url: integration?.base_url ?? null, ...declared, ...connection.config },
    created_at: connection.createdAt.toISOString(),
    updated_at: connection.updatedAt.toISOString(),
    last_verified_at: connection.lastVerifiedAt?.toISOString() ?? null,
  };
}

const notFound = (id: string) => new ApiError("not_found", `no connection with id ${id}`);

async function mustGet(services: Services, id: string): Promise<Connection> {
  const connection = await services.connections.get(id);
  if (!connection) throw notFound(id);
  return connection;
}

function integrationOf(services: Services, connection: Connection): Integration {
  const integration = services.integrations.get(connection.integration);
  if (!integration)
    throw new ApiError("internal_error", `connection ${connection.id} uses integration "${connection.integration}", which is not loaded`);
  return integration;
}

/** Credentials must be exactly the integration's fields: required ones present, no strangers. */
function checkCredentials(integration: Integration, given: Record<string, string>): Record<string, string> {
  const details: ErrorDetail[] = [];
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(integration.credentials, name))
      details.push({ path: `credentials.${name}`, message: `${integration.name} takes no credential "${name}"` });
  }
  for (const [name, field] of Object.entries(integration.credentials)) {
    if (field.required && !given[name]) details.push({ path: `credentials.${name}`, message: `${field.label} is required` });
  }
  if (details.length) throw new ApiError("invalid_request", details.map((d) => d.message).join("; "), { details });
  return given;
}

/** Merges a config patch into the current config (null removes a key) and checks the result. */
function checkConfig(
  integration: Integration,
  current: Record<string, unknown>,
  patch: Record<string, string | null>,
  refusal: (baseUrl: string) => string | undefined,
): Record<string, unknown> {
  const details: ErrorDetail[] = [];
  const merged: Record<string, unknown> = { ...current };
  for (const [name, value] of Object.entries(patch)) {
    if (name !== "base_url" && !Object.hasOwn(integration.config, name)) {
      details.push({ path: `config.${name}`, message: `${integration.name} takes no config "${name}"` });
      continue;
    }
    if (value === null) delete merged[name];
    else merged[name] = value;
  }
  const baseUrl = merged.base_url;
  if (typeof baseUrl === "string" && !isHttpUrl(baseUrl)) {
    details.push({ path: "config.base_url", message: "must be an absolute http(s) URL without credentials" });
  } else {
    // The network policy (SSRF guard) applies to the default base URL as much as to a configured one.
    const refused = refusal(typeof baseUrl === "string" ? baseUrl : integration.base_url);
    if (refused) details.push({ path: "config.base_url", message: `refused: ${refused}` });
  }
  for (const [name, field] of Object.entries(integration.config)) {
    if (field.required && !merged[name]) details.push({ path: `config.${name}`, message: `${field.label} is required` });
  }
  if (details.length) throw new ApiError("invalid_request", details.map((d) => d.message).join("; "), { details });
  return merged;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "https:" || url.protocol === "http:") && !url.username && !url.password;
  } catch {
    return false;
  }
}

async function callVerify(
  services: Services,
  integration: Integration,
  config: Record<string, unknown>,
  credentials: Record<string, string>,
) {
  try {
    const result = await verifyConnection(services.upstream, { integration, config, credentials });
    if (result.response.status >= 500) {
      throw new ApiError("upstream_error", `${integration.name} failed while verifying (upstream status ${result.response.status})`, {
        upstream: {
          status: result.response.status,
          body: upstreamBody(result.response.body, result.response.text, Object.values(credentials)),
        },
      });
    }
    return result;
  } catch (error) {
    if (error instanceof UpstreamFailure) {
      throw new ApiError(error.kind === "timeout" ? "upstream_timeout" : "upstream_error", `${integration.name}: ${error.message}`);
    }
    throw error;
  }
}

async function verifyOrReject(
  services: Services,
  integration: Integration,
  config: Record<string, unknown>,
  credentials: Record<string, string>,
) {
  const { ok, response } = await callVerify(services, integration, config, credentials);
  if (!ok) {
    throw new ApiError("invalid_request", `${integration.name} rejected the credentials (upstream status ${response.status})`, {
      upstream: { status: response.status, body: upstreamBody(response.body, response.text, Object.values(credentials)) },
    });
  }
}
