import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { BatchOperationResult, UserInput } from "@unifold/engine";
import type { BatchOutcome } from "../domain/unified/index.ts";
import { errorStatus } from "../errors.ts";
import { type AppEnv, callerOf } from "../http/env.ts";
import { requireScope } from "../middleware/auth.ts";
import { idempotent } from "../middleware/idempotency.ts";
import { commonErrors, json, upstreamErrors } from "../schemas.ts";

const MAX_OPERATIONS = 1000;

const Operation = z.discriminatedUnion("method", [
  z.object({ method: z.literal("create"), data: UserInput }).strict(),
  z.object({ method: z.literal("update"), id: z.string().min(1).max(500), data: UserInput }).strict(),
  z.object({ method: z.literal("delete"), id: z.string().min(1).max(500) }).strict(),
]);
const BatchBody = z
  .object({ operations: z.array(Operation).min(1).max(MAX_OPERATIONS) })
  .strict()
  .openapi("UserBatch");
const BatchResult = z.object({ result: z.array(BatchOperationResult) }).openapi("UserBatchResult");
const query = z.object({ connection_id: z.string().min(1).max(100), remote_data: z.enum(["true", "false"]).default("true") }).strict();

export function registerBatch(app: OpenAPIHono<AppEnv>) {
  const route = createRoute({
    method: "post",
    path: "/unified/user-directory/users/batch",
    tags: ["User directory"],
    summary: "Create, update and delete many users",
    description:
      "Up to 1,000 operations, answered one result each, in order. Every operation is checked before any is sent: " +
      "one invalid operation refuses the whole batch with a 400 naming it. Integrations with a bulk endpoint (such as " +
      "SCIM /Bulk) get the operations in chunks within its limits; their created users come back as ids without `data`.",
    middleware: [requireScope("api"), idempotent],
    request: { query, body: { required: true, content: { "application/json": { schema: BatchBody } } } },
    responses: { 200: json(BatchResult, "One result per operation, in order"), ...commonErrors, ...upstreamErrors },
  });
  app.openapi(route, async (c) => {
    const { connection_id, remote_data } = c.req.valid("query");
    const { operations } = c.req.valid("json");
    const outcomes = await c.get("services").unified.batch(callerOf(c), connection_id, operations, remote_data !== "false");
    return c.json({ result: outcomes.map(resultOf) }, 200);
  });
}

/** An operation's outcome as the contract answers it: the status it would have had on its own route. */
function resultOf(outcome: BatchOutcome): z.infer<typeof BatchOperationResult> {
  const { method, id } = outcome;
  if ("failure" in outcome) {
    const { code, message, extra } = outcome.failure;
    const status = errorStatus[code];
    return {
      method,
      status,
      ...(id !== undefined && { id }),
      error: { code, message, status, ...(extra.upstream && { upstream: extra.upstream }) },
    };
  }
  return {
    method,
    status: outcome.created ? 201 : 200,
    ...(id !== undefined && { id }),
    ...(outcome.outcome && { outcome: outcome.outcome }),
    ...(outcome.data && { data: outcome.data }),
  };
}
