import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import {
  Deleted,
  Group,
  GroupInput,
  GroupMembership,
  type Integration,
  MemberInput,
  planWrite,
  readList,
  upstreamResponse,
  readOne,
  runPlan,
  type UnifiedResource,
  UpstreamFailure,
  UpstreamStatusError,
  User,
  UserInput,
  type UpstreamTarget,
  type WriteInput,
  type WriteKind,
  type WritePlan,
  writtenRecord,
} from "@unifold/engine";
import type { Context } from "hono";
import { ApiError } from "../errors.ts";
import { requireScope } from "../middleware/auth.ts";
import { idempotent } from "../middleware/idempotency.ts";
import { commonErrors, json, upstreamErrors } from "../schemas.ts";
import type { AppEnv } from "../services.ts";
import { type Reachable, reachableConnection, withUpstream } from "../upstream-call.ts";
import { mapAll, supportedOperation, upstreamListOf } from "./unified.ts";

const writeQuery = z
  .object({
    connection_id: z.string().min(1).max(100),
    remote_data: z.enum(["true", "false"]).default("true"),
  })
  .strict();
const idempotencyHeader = z.object({
  "idempotency-key": z
    .string()
    .min(1)
    .max(255)
    .optional()
    .openapi({ description: "Repeating a POST with the same key returns the first result (24 h)." }),
});

interface WriteEntry {
  method: "post" | "patch" | "delete";
  path: string;
  resource: UnifiedResource;
  kind: WriteKind;
  body?: z.ZodType;
  /** What a create or update answers: the written object, in the unified model. */
  answer?: z.ZodType;
  summary: string;
}

const base = "/unified/user-directory";
const writeEntries: WriteEntry[] = [
  { method: "post", path: `${base}/users`, resource: "users", kind: "create", body: UserInput, answer: User, summary: "Provision a user" },
  {
    method: "patch",
    path: `${base}/users/{id}`,
    resource: "users",
    kind: "update",
    body: UserInput,
    answer: User,
    summary: "Update a user",
  },
  { method: "delete", path: `${base}/users/{id}`, resource: "users", kind: "delete", summary: "Deprovision a user" },
  {
    method: "post",
    path: `${base}/groups`,
    resource: "groups",
    kind: "create",
    body: GroupInput,
    answer: Group,
    summary: "Create a group",
  },
  {
    method: "patch",
    path: `${base}/groups/{id}`,
    resource: "groups",
    kind: "update",
    body: GroupInput,
    answer: Group,
    summary: "Rename a group",
  },
  { method: "delete", path: `${base}/groups/{id}`, resource: "groups", kind: "delete", summary: "Delete a group" },
  {
    method: "post",
    path: `${base}/groups/{id}/members`,
    resource: "group_members",
    kind: "create",
    body: MemberInput,
    answer: GroupMembership,
    summary: "Add a member",
  },
  {
    method: "delete",
    path: `${base}/groups/{id}/members/{user_id}`,
    resource: "group_members",
    kind: "delete",
    answer: GroupMembership,
    summary: "Remove a member",
  },
];

export function registerWrites(app: OpenAPIHono<AppEnv>) {
  for (const entry of writeEntries) {
    const params = [...entry.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
    const route = createRoute({
      method: entry.method,
      path: entry.path,
      tags: ["User directory"],
      summary: entry.summary,
      middleware: entry.method === "post" ? [requireScope("api"), idempotent] : [requireScope("api")],
      request: {
        query: writeQuery,
        ...(params.length && { params: z.object(Object.fromEntries(params.map((p) => [p, z.string().min(1).max(500)]))) }),
        ...(entry.method === "post" && { headers: idempotencyHeader }),
        ...(entry.body && { body: { required: true, content: { "application/json": { schema: entry.body } } } }),
      },
      responses: {
        ...(entry.kind === "delete"
          ? {
              200: entry.answer
                ? json(entry.answer, "Removed")
                : json(Deleted, "Done; `outcome` says whether the vendor deleted or deactivated"),
            }
          : { [entry.kind === "create" ? 201 : 200]: json(entry.answer!, entry.kind === "create" ? "Created" : "Updated") }),
        405: json(z.unknown(), "The integration cannot do this"),
        409: json(z.unknown(), "The vendor reported a conflict (e.g. the username is taken)"),
        ...commonErrors,
        ...upstreamErrors,
      },
    });
    // The handler's answers vary by entry (201 / 200 / delete), so its type is checked per call, not per route.
    const handler = async (c: Context<AppEnv>) => {
      const q = writeQuery.parse(c.req.query());
      const path = c.req.param() as Record<string, string | undefined>;
      const data = entry.body ? ((await c.req.json()) as Record<string, unknown>) : undefined;
      const reachable = await reachableConnection(c, q.connection_id);
      const input: WriteInput = {
        id: path.id,
        data: entry.resource === "group_members" && entry.kind === "delete" ? { user_id: path.user_id } : data,
      };
      const result = await performWrite(c, reachable, entry.resource, entry.kind, input, q.remote_data !== "false");
      return c.json(result.body, result.status);
    };
    app.openapi(route, handler as never);
  }
}

export interface WriteResult {
  status: 200 | 201;
  body: Record<string, unknown>;
}

/**
 * One unified write, start to end: checks the fields against what the vendor can set, plans the
 * upstream calls with the integration's request mapping, makes them in order, and answers in
 * the unified model. Shared by the single routes and by batches sent one call per operation.
 */
export async function performWrite(
  c: Context<AppEnv>,
  reachable: Reachable,
  resource: UnifiedResource,
  kind: WriteKind,
  input: WriteInput,
  withRemote: boolean,
): Promise<WriteResult> {
  const { integration } = reachable;
  const op = supportedOperation(integration, resource, kind);
  checkFields(integration, resource, kind, op, input.data);
  const plan = await planWrite(integration, op, input);
  if (plan.invalid) {
    throw new ApiError("invalid_request", `${integration.name}: ${plan.invalid.message}`, {
      details: [{ path: plan.invalid.field, message: plan.invalid.message }],
    });
  }
  return withUpstream(c, reachable, async (target) => {
    const responses =
      resource === "users" && kind === "create"
        ? await createWithoutDuplicates(c, target, plan, input)
        : await runPlan(c.get("services").upstream, target, plan, input, c.req.raw.signal);
    if (resource === "group_members") {
      return { status: kind === "delete" ? 200 : 201, body: { user_id: input.data?.user_id, group_id: input.id } };
    }
    if (kind === "delete") return { status: 200, body: { id: input.id, outcome: plan.outcome ?? "deleted" } };
    let record = op.refetch ? undefined : writtenRecord(responses);
    if (!record) {
      const id = input.id ?? String(writtenRecord(responses)?.id ?? "");
      record = (
        await readOne(c.get("services").upstream, target, supportedOperation(integration, resource, "get"), { id }, c.req.raw.signal)
      ).record as Record<string, unknown>;
    }
    const [mapped] = await mapAll(c.get("services"), integration, resource, op, [record], withRemote);
    if (!mapped) throw new ApiError("upstream_error", `${integration.name} answered the ${kind} without a ${resource} record`);
    return { status: kind === "create" ? 201 : 200, body: mapped };
  });
}

/**
 * A create is never retried blindly. When the call failed before any answer: a refused connection
 * proves the vendor never saw it, so it is sent once more; any other failure (timeout, reset) may
 * have landed, so the gateway first looks the user up by username — found, that is the created
 * user; proven absent, it is sent once more.
 */
async function createWithoutDuplicates(c: Context<AppEnv>, target: UpstreamTarget, plan: WritePlan, input: WriteInput) {
  const client = c.get("services").upstream;
  const signal = c.req.raw.signal;
  const username = input.data?.username;
  /** The user a create whose outcome is unknown may have made, as the create's own answer. */
  const landed = async (why: string) => {
    if (typeof username !== "string") return undefined;
    const existing = await findByUsername(c, target, username);
    if (!existing) return undefined;
    c.get("services").logger.warn({ integration: target.integration.slug }, `${why}; answering with the user found`);
    return [upstreamResponse(201, { "content-type": "application/json" }, Buffer.from(JSON.stringify(existing)))];
  };
  if (c.get("resumed")) {
    const found = await landed("an earlier run with this Idempotency-Key never finished but had created the user");
    if (found) return found;
  }
  try {
    return await runPlan(client, target, plan, input, signal);
  } catch (error) {
    if (!(error instanceof UpstreamFailure) || signal.aborted) throw error;
    if (error.code === "ECONNREFUSED") {
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
    } else {
      if (typeof username !== "string") throw error;
      const found = await landed("create failed without an answer but had landed");
      if (found) return found;
    }
  }
  // Sent once more. If that answer is lost too, or the vendor now says the username is taken,
  // the user may be the one this very request made: looked up again, it is the outcome.
  try {
    return await runPlan(client, target, plan, input, signal);
  } catch (error) {
    const unknown = error instanceof UpstreamFailure && error.code !== "ECONNREFUSED";
    const taken = error instanceof UpstreamStatusError && error.response.status === 409;
    if ((unknown || taken) && !signal.aborted) {
      const found = await landed("the create was sent again and its outcome was unknown or a conflict");
      if (found) return found;
    }
    throw error;
  }
}

/** The raw upstream user whose unified username is exactly `username`, through the list's own filter. */
async function findByUsername(c: Context<AppEnv>, target: UpstreamTarget, username: string): Promise<unknown> {
  const { integration } = target;
  const op = integration.resources.users?.list;
  if (!op?.filters.includes("username") || !op.query_mapping) return undefined;
  const page = await readList(c.get("services").upstream, target, {
    path: op.path,
    ...(await upstreamListOf(integration, "users", op, { username })),
    offset: 0,
    limit: 10,
    signal: c.req.raw.signal,
  });
  const users = await mapAll(c.get("services"), integration, "users", op, page.records, true);
  return users.find((user) => user.username === username)?.remote_data;
}

/** Refuses fields the vendor cannot set (naming field and vendor), missing required ones, and empty updates. */
export function checkFields(
  integration: Integration,
  resource: UnifiedResource,
  kind: WriteKind,
  op: { fields: string[]; required: string[] },
  data: Record<string, unknown> | undefined,
) {
  if (kind === "delete" || !data) return;
  const what = `${resource.replace("_", " ")} ${kind}`;
  const refused = Object.keys(data).filter((field) => !op.fields.includes(field));
  if (refused.length) {
    throw new ApiError(
      "invalid_request",
      `${integration.name} (${integration.slug}) cannot set ${refused.join(", ")} on ${what}; it can set ${op.fields.join(", ")}`,
      { details: refused.map((field) => ({ path: field, message: `${integration.name} cannot set ${field}` })) },
    );
  }
  const missing = op.required.filter((field) => data[field] === undefined);
  if (kind === "create" && missing.length) {
    throw new ApiError("invalid_request", `${integration.name} (${integration.slug}) needs ${missing.join(", ")} to ${what}`, {
      details: missing.map((field) => ({ path: field, message: "required" })),
    });
  }
  if (kind === "update" && Object.keys(data).length === 0) {
    throw new ApiError("invalid_request", "the update names no field to change");
  }
}
