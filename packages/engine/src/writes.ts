import { MappingError } from "@unifold/mapping";
import { z } from "zod";
import type { BatchDefinition, Integration, WriteOperation } from "./definition.ts";
import { renderPath, statusError, UpstreamShapeError, UpstreamStatusError } from "./calls.ts";
import type { UpstreamClient, UpstreamResponse, UpstreamTarget } from "./upstream.ts";

/** What a request mapping plans: the upstream calls, in order, and what a delete amounted to. */
const writePlan = z
  .object({
    /** The mapping refuses the input: `{field, message}` becomes a 400 naming the field. */
    invalid: z.object({ field: z.string(), message: z.string() }).strict().optional(),
    calls: z
      .array(
        z
          .object({
            method: z.enum(["POST", "PUT", "PATCH", "DELETE"]),
            /** `{{id}}` (the id in the unified URL) and `{{user_id}}` are filled in, URL-encoded, by the engine. */
            path: z.string().startsWith("/"),
            body: z.unknown().optional(),
            /**
             * Refusals that mean the work is already done (a second DELETE that finds the
             * record gone): the plan goes on as if the call had succeeded. Not sent through a
             * bulk endpoint, whose steps cannot be told apart this way.
             */
            done_on: z.array(z.number().int().min(400).max(499)).optional(),
          })
          .strict(),
      )
      .default([]),
    outcome: z.enum(["deleted", "deactivated"]).optional(),
  })
  .strict();

export type WritePlan = z.infer<typeof writePlan>;
export type PlannedCall = WritePlan["calls"][number];

export interface WriteInput {
  /** The id in the unified URL: the user or group written, or the group whose members change. */
  id?: string | undefined;
  data?: Record<string, unknown> | undefined;
}

/** Runs the operation's request mapping; a plan of the wrong shape is the mapping's fault, named as such. */
export async function planWrite(integration: Integration, op: WriteOperation, input: WriteInput): Promise<WritePlan> {
  const mapping = integration.mappings.get(op.request_mapping)!;
  const planned = await mapping.evaluate({ id: input.id, data: input.data ?? {} });
  const parsed = writePlan.safeParse(planned);
  if (!parsed.success) {
    const problem = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new MappingError(mapping.source, `planned no valid upstream calls (${problem})`);
  }
  if (!parsed.data.invalid && parsed.data.calls.length === 0) throw new MappingError(mapping.source, "planned no upstream calls");
  return parsed.data;
}

function paramsOf(input: WriteInput): Record<string, string> {
  const params: Record<string, string> = {};
  if (input.id !== undefined) params.id = input.id;
  const userId = input.data?.user_id;
  if (typeof userId === "string") params.user_id = userId;
  return params;
}

/**
 * Makes the planned calls one after another and stops at the first refusal. The error says
 * which earlier calls already took effect, so a half-done lifecycle is never reported as nothing.
 */
export async function runPlan(
  client: UpstreamClient,
  target: UpstreamTarget,
  plan: WritePlan,
  input: WriteInput,
  signal?: AbortSignal,
): Promise<UpstreamResponse[]> {
  const params = paramsOf(input);
  const responses: UpstreamResponse[] = [];
  const applied: string[] = [];
  for (const call of plan.calls) {
    const path = renderPath(call.path, params);
    const response = await client.request(target, {
      method: call.method,
      path,
      ...(call.body !== undefined && { json: call.body, headers: { "content-type": target.integration.write_content_type } }),
      signal,
    });
    const done = call.done_on?.includes(response.status) ?? false;
    if (!done && (response.status < 200 || response.status >= 300)) {
      const error = await statusError(target.integration, response);
      throw applied.length ? new UpstreamStatusError(response, error.upstreamMessage, applied, error.throttled) : error;
    }
    if (!done) responses.push(response);
    applied.push(`${call.method} ${path}`);
  }
  return responses;
}

/** The record a write answered with: the last JSON object among the answers. */
export function writtenRecord(responses: UpstreamResponse[]): Record<string, unknown> | undefined {
  for (const response of [...responses].reverse()) {
    const body = response.body;
    if (body && typeof body === "object" && !Array.isArray(body)) return body as Record<string, unknown>;
  }
  return undefined;
}

/** The outcome of one unified operation sent inside a SCIM /Bulk request. */
export interface BulkOutcome {
  /** The status of the operation's last bulk step, or of the first that failed. */
  status: number;
  /** From the `location` of the last step (a created user's id). */
  id?: string | undefined;
  /** The vendor's error body when a step failed. */
  error?: unknown;
  /** Steps that took effect before one failed. */
  applied: string[];
}

/**
 * Sends many planned writes through a SCIM /Bulk endpoint: each unified operation's calls stay
 * together in one request, requests hold at most `max_operations` calls and `max_bytes`, and
 * they go one after another. Returns one outcome per plan, in order.
 */
export async function runBulk(
  client: UpstreamClient,
  target: UpstreamTarget,
  batch: BatchDefinition,
  plans: { plan: WritePlan; input: WriteInput }[],
  signal?: AbortSignal,
): Promise<BulkOutcome[]> {
  const items = plans.map(({ plan, input }, index) => {
    const params = paramsOf(input);
    return plan.calls.map((call, step) => ({
      method: call.method,
      bulkId: `op${index}.${step}`,
      path: renderPath(call.path, params),
      ...(call.body !== undefined && { data: call.body }),
    }));
  });
  const chunks: (typeof items)[] = [];
  let current: typeof items = [];
  let count = 0;
  let bytes = 0;
  for (const operations of items) {
    const size = Buffer.byteLength(JSON.stringify(operations)) + 200;
    if (operations.length > batch.max_operations || size > batch.max_bytes) {
      throw new UpstreamShapeError(
        `one operation needs more than the vendor's bulk limits (${batch.max_operations} calls, ${batch.max_bytes} bytes)`,
      );
    }
    if (count + operations.length > batch.max_operations || bytes + size > batch.max_bytes) {
      chunks.push(current);
      current = [];
      count = 0;
      bytes = 0;
    }
    current.push(operations);
    count += operations.length;
    bytes += size;
  }
  if (current.length) chunks.push(current);

  const outcomes: BulkOutcome[] = [];
  for (const chunk of chunks) {
    const response = await client.request(target, {
      method: "POST",
      path: batch.path,
      json: { schemas: ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], Operations: chunk.flat() },
      headers: { "content-type": target.integration.write_content_type },
      signal,
    });
    if (response.status < 200 || response.status >= 300) throw await statusError(target.integration, response);
    const answered = (response.body as { Operations?: unknown } | undefined)?.Operations;
    if (!Array.isArray(answered)) throw new UpstreamShapeError("the bulk answer has no Operations");
    const resultOf = bulkResults(answered as Record<string, unknown>[]);
    let position = 0;
    for (const operations of chunk) {
      const applied: string[] = [];
      let outcome: BulkOutcome | undefined;
      for (const call of operations) {
        const result = resultOf(call, position++);
        const status = Number(result?.status ?? 0);
        if (!result || !(status >= 200 && status < 300)) {
          // Unanswered steps (the vendor stopped early) count as not done.
          outcome = { status: status || 412, error: result?.response, applied };
          break;
        }
        applied.push(`${call.method} ${call.path}`);
        const location = typeof result.location === "string" ? result.location : undefined;
        outcome = { status, id: location?.split("/").filter(Boolean).pop(), applied };
      }
      outcomes.push(outcome!);
    }
  }
  return outcomes;
}

/**
 * Finds each bulk operation's result. RFC 7644 §3.7 requires `bulkId` only on POST results (its
 * own example leaves it off PUT, PATCH and DELETE), so a result without one is matched by method
 * and location, else by its position in the answer, which follows the request's order.
 */
function bulkResults(answered: Record<string, unknown>[]) {
  const byBulkId = new Map<string, Record<string, unknown>>();
  for (const result of answered) if (result.bulkId !== undefined) byBulkId.set(String(result.bulkId), result);
  const used = new Set<Record<string, unknown>>();
  const sameMethod = (result: Record<string, unknown>, call: { method: string }) =>
    typeof result.method !== "string" || result.method.toUpperCase() === call.method.toUpperCase();
  const at = (location: unknown) => (typeof location === "string" ? new URL(location, "http://bulk.invalid").pathname : undefined);
  return (call: { method: string; bulkId: string; path: string }, position: number): Record<string, unknown> | undefined => {
    let result = byBulkId.get(call.bulkId);
    if (!result) {
      const unlabelled = answered.filter((r) => r.bulkId === undefined && !used.has(r) && sameMethod(r, call));
      result = unlabelled.find((r) => at(r.location)?.endsWith(call.path));
      const positional = answered[position];
      if (!result && positional && positional.bulkId === undefined && !used.has(positional) && sameMethod(positional, call))
        result = positional;
    }
    if (result) used.add(result);
    return result;
  };
}
