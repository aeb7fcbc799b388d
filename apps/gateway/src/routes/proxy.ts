import type { OpenAPIHono } from "@hono/zod-openapi";
import { type Integration, readRawList } from "@unifold/engine";
import { z } from "@hono/zod-openapi";
import { ApiError } from "../errors.ts";
import { requireScope } from "../middleware/auth.ts";
import { noIdempotencyKey } from "../middleware/idempotency.ts";
import { openPosition, rawListEnvelope, sealPosition } from "../pagination.ts";
import type { AppEnv } from "../services.ts";
import { rateLimitHeaders, reachableConnection, withUpstream } from "../upstream-call.ts";
import { commonErrors, json, listOf, upstreamErrors } from "../schemas.ts";
import { forward, forwardedQuery } from "./forward.ts";

const listQuery = z.object({
  connection_id: z.string().min(1).max(100),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(4096).optional(),
});
const oneQuery = z.object({ connection_id: z.string().min(1).max(100) });
// Built once: zod compiles a schema on its first parse, which per request would cost more than the check.
const listQueryAndVendor = listQuery.passthrough();
const oneQueryAndVendor = oneQuery.passthrough();

function proxyResourceOf(integration: Integration, name: string) {
  // Own keys only: `__proto__`, `constructor` or `hasOwnProperty` name no proxy resource.
  const proxy = Object.hasOwn(integration.proxy, name) ? integration.proxy[name] : undefined;
  if (!proxy) {
    throw new ApiError(
      "resource_not_supported",
      `${integration.name} (${integration.slug}) has no proxy resource "${name}"; it has ${Object.keys(integration.proxy).join(", ") || "none"}`,
    );
  }
  return proxy;
}

function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw ApiError.fromZod(parsed.error, "query");
  return parsed.data;
}

/** `/proxy/{resource}[/{id}]`: the integration's own resources, upstream objects unchanged. */
export function registerProxy(app: OpenAPIHono<AppEnv>) {
  // Plain routes (their query passes through to the vendor), described for /openapi.json by hand.
  const resource = z
    .string()
    .openapi({ param: { name: "resource", in: "path" }, description: "A proxy resource, e.g. Users, systemusers" });
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/proxy/{resource}",
    tags: ["Proxy"],
    summary: "List a vendor resource, upstream objects unchanged, with Unifold cursors",
    request: { params: z.object({ resource }), query: listQuery },
    responses: { 200: json(listOf(z.unknown()), "A page of upstream objects"), ...commonErrors, ...upstreamErrors },
  });
  for (const method of ["get", "post", "put", "patch", "delete"] as const) {
    app.openAPIRegistry.registerPath({
      method,
      path: "/proxy/{resource}/{id}",
      tags: ["Proxy"],
      summary: `${method.toUpperCase()} one vendor record: the upstream body verbatim, with its status`,
      request: { params: z.object({ resource, id: z.string().openapi({ param: { name: "id", in: "path" } }) }), query: oneQuery },
      responses: { 200: { description: "The upstream's answer, status and body as they are" }, ...commonErrors, ...upstreamErrors },
    });
  }
  app.get("/proxy/:resource", requireScope("api"), noIdempotencyKey, async (c) => {
    const q = parse(listQueryAndVendor, c.req.query());
    const reachable = await reachableConnection(c, q.connection_id);
    const { connection, integration } = reachable;
    const proxy = proxyResourceOf(integration, c.req.param("resource"));
    const upstreamQuery = forwardedQuery(c, ["limit", "cursor"]);
    const binding = `${connection.id}|proxy|${c.req.param("resource")}|${JSON.stringify(upstreamQuery)}`;
    const { offset, seen } = await openPosition(c.get("services").cursors, binding, q.cursor);
    const page = await withUpstream(c, reachable, (target) =>
      readRawList(c.get("services").upstream, target, {
        path: proxy.path,
        query: upstreamQuery,
        pagination: proxy.pagination ? integration.pagination[proxy.pagination] : undefined,
        records: proxy.records,
        offset,
        limit: q.limit,
        seen,
        signal: c.req.raw.signal,
      }),
    );
    for (const [name, value] of Object.entries(rateLimitHeaders(integration, page.last))) c.header(name, value);
    const next = page.more ? await sealPosition(c.get("services").cursors, binding, offset + page.count, page.first) : null;
    return c.body(rawListEnvelope(page.parts, page.count, next), 200, { "content-type": "application/json" });
  });

  app.on(["GET", "POST", "PUT", "PATCH", "DELETE"], "/proxy/:resource/:id", requireScope("api"), noIdempotencyKey, async (c) => {
    const q = parse(oneQueryAndVendor, c.req.query());
    const reachable = await reachableConnection(c, q.connection_id);
    const proxy = proxyResourceOf(reachable.integration, c.req.param("resource"));
    return forward(c, reachable, `${proxy.path}/${encodeURIComponent(c.req.param("id"))}`, forwardedQuery(c));
  });
}
