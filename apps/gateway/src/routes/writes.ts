import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import {
  Deleted,
  Group,
  GroupInput,
  GroupMembership,
  MemberInput,
  type UnifiedResource,
  User,
  UserInput,
  type WriteKind,
} from "@unifold/engine";
import type { Context } from "hono";
import { type AppEnv, callerOf } from "../http/env.ts";
import { requireScope } from "../middleware/auth.ts";
import { idempotent } from "../middleware/idempotency.ts";
import { commonErrors, json, upstreamErrors } from "../schemas.ts";

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

// Which of these a path has depends on the entry; each present one is required by its route.
// Which of these a path has depends on the entry; each present one is required by its route.
type Params = { id: z.ZodOptional<z.ZodString>; user_id: z.ZodOptional<z.ZodString> };
type Json = z.ZodType<Record<string, unknown>>;
// A write's answer is held to the model at run time (conform.ts); the type system sees a plain record.
const answerOf = (entry: WriteEntry) => (entry.answer ?? Deleted) as Json;

export function registerWrites(app: OpenAPIHono<AppEnv>) {
  for (const entry of writeEntries) {
    const params = [...entry.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
    const described = {
      method: entry.method,
      path: entry.path,
      tags: ["User directory"],
      summary: entry.summary,
      middleware: entry.method === "post" ? [requireScope("api"), idempotent] : [requireScope("api")],
    };
    const request = {
      query: writeQuery,
      params: z.object(Object.fromEntries(params.map((p) => [p, z.string().min(1).max(500)])) as unknown as Params),
      headers: entry.method === "post" ? idempotencyHeader : z.object({}),
    };
    const withBody = {
      ...request,
      body: { required: true, content: { "application/json": { schema: (entry.body ?? z.never()) as Json } } },
    };
    const errors = {
      405: json(z.unknown(), "The integration cannot do this"),
      409: json(z.unknown(), "The vendor reported a conflict (e.g. the username is taken)"),
      ...commonErrors,
      ...upstreamErrors,
    };
    /** Runs the write; the three routes below differ only in their body and the status they document. */
    const run = (
      c: Context<AppEnv>,
      query: z.infer<typeof writeQuery>,
      path: { id?: string; user_id?: string },
      data?: Record<string, unknown>,
    ) =>
      c.get("services").unified.write(callerOf(c), {
        connectionId: query.connection_id,
        resource: entry.resource,
        kind: entry.kind,
        input: { id: path.id, data: entry.resource === "group_members" && entry.kind === "delete" ? { user_id: path.user_id } : data },
        withRemote: query.remote_data !== "false",
      });
    if (entry.kind === "create") {
      const route = createRoute({ ...described, request: withBody, responses: { 201: json(answerOf(entry), "Created"), ...errors } });
      app.openapi(route, async (c) => c.json((await run(c, c.req.valid("query"), c.req.valid("param"), c.req.valid("json"))).body, 201));
    } else if (entry.kind === "update") {
      const route = createRoute({ ...described, request: withBody, responses: { 200: json(answerOf(entry), "Updated"), ...errors } });
      app.openapi(route, async (c) => c.json((await run(c, c.req.valid("query"), c.req.valid("param"), c.req.valid("json"))).body, 200));
    } else {
      const what = entry.answer ? "Removed" : "Done; `outcome` says whether the vendor deleted or deactivated";
      const route = createRoute({ ...described, request, responses: { 200: json(answerOf(entry), what), ...errors } });
      app.openapi(route, async (c) => c.json((await run(c, c.req.valid("query"), c.req.valid("param"))).body, 200));
    }
  }
}
