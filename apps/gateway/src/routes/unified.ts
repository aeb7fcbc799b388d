import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { resourceModels, type UnifiedFilter, type UnifiedResource } from "@unifold/engine";
import { oneOf } from "../domain/unified/index.ts";
import { listEnvelope, rawJson, rawListEnvelope, withRemoteBytes } from "../http/envelope.ts";
import { type AppEnv, callerOf } from "../http/env.ts";
import { requireScope } from "../middleware/auth.ts";
import { commonErrors, instant, json, pageOf, pageQuery, upstreamErrors } from "../schemas.ts";

const common = {
  connection_id: z.string().min(1).max(100).openapi({ description: "The connection to read through." }),
  remote_data: z.enum(["true", "false"]).default("true").openapi({ description: "`false` omits `remote_data`." }),
};
const filterSchemas = {
  email: z.string().min(1).max(320),
  username: z.string().min(1).max(320),
  status: z.enum(["active", "inactive", "deleted", "invited"]),
  name: z.string().min(1).max(200),
  updated_after: instant,
} satisfies Record<UnifiedFilter, z.ZodType>;

interface Entry {
  path: string;
  resource: UnifiedResource;
  kind: "list" | "get";
  filters?: UnifiedFilter[];
  tag: string;
}

const userFilters: UnifiedFilter[] = ["email", "username", "status", "updated_after"];
const groupFilters: UnifiedFilter[] = ["name", "updated_after"];
const directory = "/unified/user-directory";

/** Every unified read route: path, the resource it serves, and the filters the contract allows on a list. */
const entries: Entry[] = [
  { path: `${directory}/users`, resource: "users", kind: "list", filters: userFilters, tag: "User directory" },
  { path: `${directory}/users/{id}`, resource: "users", kind: "get", tag: "User directory" },
  { path: `${directory}/me`, resource: "me", kind: "get", tag: "User directory" },
  { path: `${directory}/groups`, resource: "groups", kind: "list", filters: groupFilters, tag: "User directory" },
  { path: `${directory}/groups/{id}`, resource: "groups", kind: "get", tag: "User directory" },
  { path: `${directory}/groups/{id}/members`, resource: "group_members", kind: "list", filters: [], tag: "User directory" },
  { path: `${directory}/organizations`, resource: "organizations", kind: "list", filters: ["updated_after"], tag: "User directory" },
  { path: `${directory}/organizations/{id}`, resource: "organizations", kind: "get", tag: "User directory" },
  { path: `${directory}/roles`, resource: "roles", kind: "list", filters: ["updated_after"], tag: "User directory" },
  { path: `${directory}/roles/{id}`, resource: "roles", kind: "get", tag: "User directory" },
  { path: "/unified/hris/employees", resource: "employees", kind: "list", filters: userFilters, tag: "HRIS" },
  { path: "/unified/hris/employees/{id}", resource: "employees", kind: "get", tag: "HRIS" },
  { path: "/unified/hris/companies", resource: "companies", kind: "list", filters: ["updated_after"], tag: "HRIS" },
  { path: "/unified/hris/companies/{id}", resource: "companies", kind: "get", tag: "HRIS" },
  { path: "/unified/hris/groups", resource: "hris_groups", kind: "list", filters: groupFilters, tag: "HRIS" },
  { path: "/unified/hris/groups/{id}", resource: "hris_groups", kind: "get", tag: "HRIS" },
];

const api = [requireScope("api")];
const named = (resource: UnifiedResource) => resource.replace("_", " ");
// Reference titles: "List users", "Get a user" (as "Get a connection" elsewhere), "Get the current user".
const many: Partial<Record<UnifiedResource, string>> = { hris_groups: "HRIS groups" };
// Every filter, optional: each route's own schema allows only its contract filters (strict).
const anyFilter = Object.fromEntries(Object.entries(filterSchemas).map(([name, schema]) => [name, schema.optional()])) as {
  [F in UnifiedFilter]: z.ZodOptional<(typeof filterSchemas)[F]>;
};
const listQuery = z.object({ ...common, ...pageQuery, ...anyFilter }).strict();
const getQuery = z.object(common).strict();
const idParam = z.object({ id: z.string().min(1).max(500) });
const noParam = z.object({});
const paramsOf = (entry: Entry) => (entry.path.includes("{id}") ? idParam : noParam);
const idOf = (params: { id?: string }) => params.id;

export function registerUnified(app: OpenAPIHono<AppEnv>) {
  for (const entry of entries) {
    if (entry.kind === "list") registerList(app, entry);
    else registerGet(app, entry);
  }
}

function registerList(app: OpenAPIHono<AppEnv>, entry: Entry) {
  const model = resourceModels[entry.resource];
  const allowed = Object.fromEntries((entry.filters ?? []).map((f) => [f, true as const]));
  const route = createRoute({
    method: "get",
    path: entry.path,
    tags: [entry.tag],
    summary: `List ${many[entry.resource] ?? named(entry.resource)}`,
    middleware: api,
    request: {
      query: listQuery.pick({ connection_id: true, remote_data: true, limit: true, cursor: true, ...allowed }).strict() as typeof listQuery,
      params: paramsOf(entry),
    },
    responses: { 200: json(pageOf(model.schema, model.name), "A page"), ...commonErrors, ...upstreamErrors },
  });
  app.openapi(route, async (c) => {
    const { connection_id, remote_data, limit, cursor, ...filters } = c.req.valid("query");
    const page = await c.get("services").unified.list(callerOf(c), {
      connectionId: connection_id,
      resource: entry.resource,
      parentId: idOf(c.req.valid("param")),
      filters,
      limit,
      cursor,
    });
    if (remote_data === "false") {
      const result = page.objects.filter((o) => o !== undefined);
      return rawJson(JSON.stringify(listEnvelope(result, page.next_cursor)), page.rateLimit);
    }
    const objects = withRemoteBytes(page.objects, page.bytes);
    return rawJson(rawListEnvelope(objects, objects.length, page.next_cursor), page.rateLimit);
  });
}

function registerGet(app: OpenAPIHono<AppEnv>, entry: Entry) {
  const model = resourceModels[entry.resource];
  const route = createRoute({
    method: "get",
    path: entry.path,
    tags: [entry.tag],
    summary: `Get ${oneOf[entry.resource]}`,
    middleware: api,
    request: { query: getQuery, params: paramsOf(entry) },
    // The object is held to the model at run time (conform.ts); the type system sees a plain record.
    responses: { 200: json(model.schema as z.ZodType<Record<string, unknown>>, "The object"), ...commonErrors, ...upstreamErrors },
  });
  app.openapi(route, async (c) => {
    const { connection_id, remote_data } = c.req.valid("query");
    const { object, rateLimit } = await c.get("services").unified.get(callerOf(c), {
      connectionId: connection_id,
      resource: entry.resource,
      id: idOf(c.req.valid("param")),
      withRemote: remote_data !== "false",
    });
    for (const [name, value] of Object.entries(rateLimit)) c.header(name, value);
    return c.json(object, 200);
  });
}
