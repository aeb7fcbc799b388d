import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import {
  type Integration,
  type OperationDefinition,
  readListWithBytes,
  readOne,
  renderPath,
  resourceModels,
  type UnifiedFilter,
  type UnifiedResource,
  unifyRecords,
} from "@unifold/engine";
import type { Context } from "hono";
import { ApiError } from "../errors.ts";
import { requireScope } from "../middleware/auth.ts";
import { listEnvelope, openPosition, pageQuery, rawListEnvelope, sealPosition, withRemoteBytes } from "../pagination.ts";
import { commonErrors, json, pageOf, upstreamErrors } from "../schemas.ts";
import type { AppEnv, Services } from "../services.ts";
import { rateLimitHeaders, reachableConnection, withUpstream } from "../upstream-call.ts";

const common = {
  connection_id: z.string().min(1).max(100).openapi({ description: "The connection to read through." }),
  remote_data: z.enum(["true", "false"]).default("true").openapi({ description: "`false` omits `remote_data`." }),
};
const filterSchemas = {
  email: z.string().min(1).max(320),
  username: z.string().min(1).max(320),
  status: z.enum(["active", "inactive", "deleted", "invited"]),
  name: z.string().min(1).max(200),
  updated_after: z.iso.datetime({ offset: true }),
} satisfies Record<UnifiedFilter, z.ZodType>;

type Kind = "list" | "get";
interface Entry {
  path: string;
  resource: UnifiedResource;
  kind: Kind;
  filters?: UnifiedFilter[];
  tag: string;
}

const userFilters: UnifiedFilter[] = ["email", "username", "status", "updated_after"];
const groupFilters: UnifiedFilter[] = ["name", "updated_after"];

/** Every unified read route: path, the resource it serves, and the filters the contract allows on it. */
const entries: Entry[] = [
  { path: "/unified/user-directory/users", resource: "users", kind: "list", filters: userFilters, tag: "User directory" },
  { path: "/unified/user-directory/users/{id}", resource: "users", kind: "get", tag: "User directory" },
  { path: "/unified/user-directory/me", resource: "me", kind: "get", tag: "User directory" },
  { path: "/unified/user-directory/groups", resource: "groups", kind: "list", filters: groupFilters, tag: "User directory" },
  { path: "/unified/user-directory/groups/{id}", resource: "groups", kind: "get", tag: "User directory" },
  { path: "/unified/user-directory/groups/{id}/members", resource: "group_members", kind: "list", filters: [], tag: "User directory" },
  {
    path: "/unified/user-directory/organizations",
    resource: "organizations",
    kind: "list",
    filters: ["updated_after"],
    tag: "User directory",
  },
  { path: "/unified/user-directory/organizations/{id}", resource: "organizations", kind: "get", tag: "User directory" },
  { path: "/unified/user-directory/roles", resource: "roles", kind: "list", filters: ["updated_after"], tag: "User directory" },
  { path: "/unified/user-directory/roles/{id}", resource: "roles", kind: "get", tag: "User directory" },
  { path: "/unified/hris/employees", resource: "employees", kind: "list", filters: userFilters, tag: "HRIS" },
  { path: "/unified/hris/employees/{id}", resource: "employees", kind: "get", tag: "HRIS" },
  { path: "/unified/hris/companies", resource: "companies", kind: "list", filters: ["updated_after"], tag: "HRIS" },
  { path: "/unified/hris/companies/{id}", resource: "companies", kind: "get", tag: "HRIS" },
  { path: "/unified/hris/groups", resource: "hris_groups", kind: "list", filters: groupFilters, tag: "HRIS" },
  { path: "/unified/hris/groups/{id}", resource: "hris_groups", kind: "get", tag: "HRIS" },
];

const api = [requireScope("api")];

export function registerUnified(app: OpenAPIHono<AppEnv>) {
  for (const entry of entries) {
    const hasId = entry.path.includes("{id}");
    const model = resourceModels[entry.resource];
    const filterShape = Object.fromEntries((entry.filters ?? []).map((f) => [f, filterSchemas[f].optional()]));
    const query = z.object({ ...common, ...(entry.kind === "list" ? { ...pageQuery, ...filterShape } : {}) }).strict();
    const route = createRoute({
      method: "get",
      path: entry.path,
      tags: [entry.tag],
      summary: `${entry.kind === "list" ? "List" : "Get"} ${entry.resource.replace("_", " ")}`,
      middleware: api,
      request: { query, ...(hasId && { params: z.object({ id: z.string().min(1).max(500) }) }) },
      responses: {
        200: entry.kind === "list" ? json(pageOf(model.schema, model.name), "A page") : json(model.schema, "The object"),
        ...commonErrors,
        ...upstreamErrors,
      },
    });
    app.openapi(route, async (c) => {
      const q = c.req.query() as Record<string, string | undefined>;
      const id = (c.req.param() as Record<string, string | undefined>).id;
      if (entry.kind === "list") return (await list(c, entry, q, id)) as never;
      return c.json((await get(c, entry, q, id)) as never, 200);
    });
  }
}

function operationOf(integration: Integration, entry: Entry): OperationDefinition {
  return supportedOperation(integration, entry.resource, entry.kind);
}

/**
 * How a list operation asks its upstream for these filters: the query (through the operation's
 * query mapping), and the pagination style — or, where the vendor cannot page a filtered list
 * (Jostle), no style and where the records sit in the one answer.
 */
export async function upstreamListOf(
  integration: Integration,
  resource: UnifiedResource,
  op: OperationDefinition,
  filters: Record<string, string>,
) {
  let query: Record<string, string | string[]> = { ...op.query };
  if (op.query_mapping && Object.keys(filters).length) {
    const out = (await integration.mappings.get(op.query_mapping)!.evaluate({ filters })) as
      { query?: Record<string, string | string[]>; unsupported?: string } | undefined;
    if (out?.unsupported) {
      throw new ApiError(
        "filter_not_supported",
        `${integration.name} (${integration.slug}) cannot filter ${resource} by ${out.unsupported}`,
        {
          details: [{ path: out.unsupported.split("=")[0] ?? "", message: out.unsupported }],
        },
      );
    }
    query = { ...query, ...out?.query };
  }
  const paginated = op.pagination && !(Object.keys(filters).length > 0 && op.unpaged_when_filtered);
  const pagination = paginated ? integration.pagination[op.pagination as string] : undefined;
  const records = paginated ? undefined : (op.records ?? (op.pagination ? integration.pagination[op.pagination]?.records : undefined));
  return { query, pagination, records };
}

/** The integration's definition of one operation, or the contract's 404 / 405 naming what is missing. */
export function supportedOperation<K extends OperationKind>(integration: Integration, resource: UnifiedResource, kind: K) {
  const operations = Object.hasOwn(integration.resources, resource) ? integration.resources[resource] : undefined;
  if (!operations) {
    throw new ApiError("resource_not_supported", `${integration.name} (${integration.slug}) has no ${resource.replace("_", " ")} resource`);
  }
  const op = operations[kind];
  if (!op)
    throw new ApiError("method_not_allowed", `${integration.name} (${integration.slug}) cannot ${kind} ${resource.replace("_", " ")}`);
  return op as NonNullable<(typeof operations)[K]>;
}

type OperationKind = "list" | "get" | "create" | "update" | "delete";

/**
 * Maps upstream records one at a time through the operation's JSONata file(s), merging their
 * outputs; a record any file maps to null is dropped. A throwing mapping fails the whole page.
 * Each mapped record is then held to the unified model (see mapEach).
 */
export async function mapAll(
  services: Services,
  integration: Integration,
  resource: UnifiedResource,
  op: { response_mapping?: string[] | undefined },
  records: unknown[],
  withRemote: boolean,
) {
  const out: Record<string, unknown>[] = [];
  for (const [i, merged] of (await mapEach(services, integration, resource, op, records)).entries()) {
    if (!merged) continue;
    if (withRemote) merged.remote_data = records[i];
    out.push(merged);
  }
  return out;
}

/**
 * `mapAll` without `remote_data`, one entry per record: undefined where the record is dropped.
 * Off-model values (answered as null by the engine) are counted by integration, resource and
 * field, and logged once per page with the record ids, never the values.
 */
async function mapEach(
  services: Services,
  integration: Integration,
  resource: UnifiedResource,
  op: { response_mapping?: string[] | undefined },
  records: unknown[],
) {
  const { objects, offModel } = await unifyRecords(integration, resource, op, records);
  if (offModel.length) {
    for (const { field } of offModel) services.metrics.offModelValues.inc({ integration: integration.slug, resource, field });
    services.logger.warn(
      { integration: integration.slug, resource, off_model: offModel },
      "vendor values outside the unified model were answered as null",
    );
  }
  return objects;
}

async function list(c: Context<AppEnv>, entry: Entry, q: Record<string, string | undefined>, parentId: string | undefined) {
  const reachable = await reachableConnection(c, q.connection_id as string);
  const { connection, integration } = reachable;
  const op = operationOf(integration, entry);
  const filters = Object.fromEntries((entry.filters ?? []).filter((f) => q[f] !== undefined).map((f) => [f, q[f] as string]));
  for (const name of Object.keys(filters)) {
    if (!op.filters.includes(name as UnifiedFilter)) {
      throw new ApiError(
        "filter_not_supported",
        `${integration.name} (${integration.slug}) cannot filter ${entry.resource.replace("_", " ")} by ${name}`,
        {
          details: [{ path: name, message: op.filters.length ? `supported: ${op.filters.join(", ")}` : "no filters are supported here" }],
        },
      );
    }
  }
  const upstream = await upstreamListOf(integration, entry.resource, op, filters);
  const limit = Number(q.limit ?? 50);
  const binding = `${connection.id}|${entry.resource}|${parentId ?? ""}|${JSON.stringify(filters)}`;
  const { offset, seen } = await openPosition(c.get("services").cursors, binding, q.cursor);
  const withRemote = q.remote_data !== "false";
  const page = await withUpstream(c, reachable, async (target) => {
    const result = await readListWithBytes(c.get("services").upstream, target, {
      path: renderPath(op.path, parentId === undefined ? {} : { id: parentId }),
      ...upstream,
      offset,
      limit,
      seen,
      signal: c.req.raw.signal,
    });
    const started = performance.now();
    const mapped = await mapEach(c.get("services"), integration, entry.resource, op, result.records);
    c.get("services").metrics.mappingSeconds.observe({ integration: integration.slug }, (performance.now() - started) / 1000);
    return { ...result, mapped };
  });
  for (const [name, value] of Object.entries(rateLimitHeaders(integration, page.last))) c.header(name, value);
  const next = page.more ? await sealPosition(c.get("services").cursors, binding, offset + page.records.length, page.first) : null;
  if (withRemote) {
    const objects = withRemoteBytes(page.mapped, page.bytes);
    return c.body(rawListEnvelope(objects, objects.length, next), 200, { "content-type": "application/json" });
  }
  const objects = page.mapped.filter((object) => object !== undefined);
  return c.json(listEnvelope(objects, next), 200);
}

async function get(c: Context<AppEnv>, entry: Entry, q: Record<string, string | undefined>, id: string | undefined) {
  const reachable = await reachableConnection(c, q.connection_id as string);
  const { integration } = reachable;
  const op = operationOf(integration, entry);
  const result = await withUpstream(c, reachable, async (target) => {
    const { record, last } = await readOne(c.get("services").upstream, target, op, id === undefined ? {} : { id }, c.req.raw.signal);
    const [mapped] = await mapAll(c.get("services"), integration, entry.resource, op, [record], q.remote_data !== "false");
    return { mapped, last };
  });
  for (const [name, value] of Object.entries(rateLimitHeaders(integration, result.last))) c.header(name, value);
  if (!result.mapped) throw new ApiError("not_found", `${integration.name} has no such ${entry.resource}`);
  return result.mapped;
}
