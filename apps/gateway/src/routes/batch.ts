import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { BatchOperationResult, planWrite, runBulk, type User, UserInput, type WriteInput, type WritePlan } from "@unifold/engine";
import type { Context } from "hono";
import { ApiError, type ErrorCode, errorStatus, redacted, upstreamBody } from "../errors.ts";
import { requireScope } from "../middleware/auth.ts";
import { idempotent } from "../middleware/idempotency.ts";
import { commonErrors, json, upstreamErrors } from "../schemas.ts";
import type { AppEnv } from "../services.ts";
import { type Reachable, reachableConnection, withUpstream } from "../upstream-call.ts";
import { supportedOperation } from "./unified.ts";
import { checkFields, performWrite } from "./writes.ts";

const MAX_OPERATIONS = 1000;
/** Vendors without a bulk endpoint get one call per operation, this many at a time. */
const CONCURRENCY = 4;

const Operation = z.discriminatedUnion("method", [
  z.object({ method: z.literal("create"), data: UserInput }).strict(),
  z.object({ method: z.literal("update"), id: z.string().min(1).max(500), data: UserInput }).strict(),
  z.object({ method: z.literal("delete"), id: z.string().min(1).max(500) }).strict(),
]);
const BatchBody = z
  .object({ operations: z.array(Operation).min(1).max(MAX_OPERATIONS) })
  .strict()
  .openapi("UserBatch");
type BatchOperation = z.infer<typeof Operation>;

const BatchResult = z.object({ result: z.array(BatchOperationResult) }).openapi("UserBatchResult");
type ResultItem = z.infer<typeof BatchResult>["result"][number];

const query = z.object({ connection_id: z.string().min(1).max(100), remote_data: z.enum(["true", "false"]).default("true") }).strict();

export function registerBatch(app: OpenAPIHono<AppEnv>) {
  const route = createRoute({
    method: "post",
    path: "/unified/user-directory/users/batch",
    tags: ["User directory"],
    summary: "Create, update and delete many users",
    description:
      "Up to 1,000 operations, answered one result each, in order. Every operation is checked before any is sent: " +
      "one invalid operation refuses the whole batch with a 400 naming it. Vendors with a bulk endpoint (Jostle's SCIM " +
      "/Bulk) get the operations in chunks within its limits; their created users come back as ids without `data`.",
    middleware: [requireScope("api"), idempotent],
    request: { query, body: { required: true, content: { "application/json": { schema: BatchBody } } } },
    responses: { 200: json(BatchResult, "One result per operation, in order"), ...commonErrors, ...upstreamErrors },
  });
  app.openapi(route, (async (c: Context<AppEnv>) => {
    const q = query.parse(c.req.query());
    const { operations } = BatchBody.parse(await c.req.json());
    const reachable = await reachableConnection(c, q.connection_id);
    const plans = await planAll(reachable, operations);
    const result = reachable.integration.batch
      ? await viaBulk(c, reachable, operations, plans)
      : await oneByOne(c, reachable, operations, q.remote_data !== "false");
    return c.json({ result }, 200);
  }) as never);
}

const inputOf = (op: BatchOperation): WriteInput => ({ id: "id" in op ? op.id : undefined, data: "data" in op ? op.data : undefined });

/** Checks and plans every operation before any is sent, so a bad one writes nothing. */
async function planAll(reachable: Reachable, operations: BatchOperation[]): Promise<WritePlan[]> {
  const { integration } = reachable;
  const plans: WritePlan[] = [];
  for (const [index, op] of operations.entries()) {
    try {
      const definition = supportedOperation(integration, "users", op.method);
      checkFields(integration, "users", op.method, definition, inputOf(op).data);
      const plan = await planWrite(integration, definition, inputOf(op));
      if (plan.invalid)
        throw new ApiError("invalid_request", plan.invalid.message, {
          details: [{ path: plan.invalid.field, message: plan.invalid.message }],
        });
      plans.push(plan);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const details = (error.extra.details ?? [{ path: "", message: error.message }]).map((d) => ({
        path: ["operations", index, d.path].filter((p) => p !== "").join("."),
        message: d.message,
      }));
      throw new ApiError(error.code, `operation ${index}: ${error.message}`, { details });
    }
  }
  return plans;
}

async function oneByOne(c: Context<AppEnv>, reachable: Reachable, operations: BatchOperation[], withRemote: boolean) {
  const results: ResultItem[] = new Array(operations.length);
  let next = 0;
  const worker = async () => {
    while (next < operations.length) {
      const index = next++;
      const op = operations[index]!;
      try {
        const { status, body } = await performWrite(c, reachable, "users", op.method, inputOf(op), withRemote);
        results[index] =
          op.method === "delete"
            ? { method: op.method, status, id: String(body.id), outcome: body.outcome as "deleted" | "deactivated" }
            : { method: op.method, status, id: String(body.id), data: body as User };
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        results[index] = {
          method: op.method,
          status: error.status,
          ...("id" in op && { id: op.id }),
          error: {
            code: error.code,
            message: error.message,
            status: error.status,
            ...(error.extra.upstream && { upstream: error.extra.upstream }),
          },
        };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, operations.length) }, worker));
  return results;
}

async function viaBulk(c: Context<AppEnv>, reachable: Reachable, operations: BatchOperation[], plans: WritePlan[]) {
  const { integration } = reachable;
  let secrets: string[] = [];
  const outcomes = await withUpstream(c, reachable, (target) => {
    secrets = Object.values(target.credentials);
    return runBulk(
      c.get("services").upstream,
      target,
      integration.batch!,
      plans.map((plan, i) => ({ plan, input: inputOf(operations[i]!) })),
      c.req.raw.signal,
    );
  });
  return outcomes.map((outcome, index): ResultItem => {
    const op = operations[index]!;
    const id = "id" in op ? op.id : outcome.id;
    if (outcome.status >= 200 && outcome.status < 300) {
      const status = op.method === "create" ? 201 : 200;
      return op.method === "delete"
        ? { method: op.method, status, ...(id && { id }), outcome: plans[index]!.outcome ?? "deleted" }
        : { method: op.method, status, ...(id && { id }) };
    }
    const code = codeFor(outcome.status);
    const said = redacted(
      typeof (outcome.error as { detail?: unknown })?.detail === "string" ? `: ${(outcome.error as { detail: string }).detail}` : "",
      secrets,
    );
    const applied = outcome.applied.length ? ` (already done before this failed: ${outcome.applied.join(", ")})` : "";
    return {
      method: op.method,
      status: errorStatus[code],
      ...(id && { id }),
      error: {
        code,
        message: `${integration.name} refused the operation (upstream status ${outcome.status})${said}${applied}`,
        status: errorStatus[code],
        upstream: { status: outcome.status, body: upstreamBody(outcome.error, JSON.stringify(outcome.error ?? null), secrets) },
      },
    };
  });
}

function codeFor(upstreamStatus: number): ErrorCode {
  if (upstreamStatus === 404) return "not_found";
  if (upstreamStatus === 409) return "conflict";
  if (upstreamStatus === 429) return "rate_limited";
  if (upstreamStatus >= 400 && upstreamStatus < 500) return "invalid_request";
  return "upstream_error";
}
