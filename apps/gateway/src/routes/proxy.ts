import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { Failure } from "../domain/failure.ts";
import { type AppEnv, callerOf } from "../http/env.ts";
import { rawJson, rawListEnvelope } from "../http/envelope.ts";
import { relayedResponse, relayRequestOf, vendorQuery } from "../http/relayed.ts";
import { requireScope } from "../middleware/auth.ts";
import { noIdempotencyKey } from "../middleware/idempotency.ts";
import { commonErrors, json, listOf, upstreamErrors } from "../schemas.ts";

const listQuery = z.object({
  connection_id: z.string().min(1).max(100),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(4096).optional(),
});
const oneQuery = z.object({ connection_id: z.string().min(1).max(100) });
// Built once: zod compiles a schema on its first parse, which per request would cost more than the check.
const listQueryAndVendor = listQuery.passthrough();
const oneQueryAndVendor = oneQuery.passthrough();

function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw Failure.fromZod(parsed.error, "query");
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
    const page = await c.get("services").unified.proxyList(callerOf(c), {
      connectionId: q.connection_id,
      resource: c.req.param("resource"),
      query: vendorQuery(c, ["limit", "cursor"]),
      limit: q.limit,
      cursor: q.cursor,
    });
    return rawJson(rawListEnvelope(page.parts, page.count, page.next_cursor), page.rateLimit);
  });

  app.on(["GET", "POST", "PUT", "PATCH", "DELETE"], "/proxy/:resource/:id", requireScope("api"), noIdempotencyKey, async (c) => {
    const q = parse(oneQueryAndVendor, c.req.query());
    const relayed = await c
      .get("services")
      .unified.proxyRecord(callerOf(c), q.connection_id, c.req.param("resource"), c.req.param("id"), await relayRequestOf(c));
    return relayedResponse(relayed);
  });
}
