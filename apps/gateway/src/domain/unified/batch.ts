import { runBulk, type User, type UserInput, type WriteInput, type WritePlan } from "@unifold/engine";
import type { z } from "zod";
import { Failure, codeForUpstreamStatus, redacted, upstreamBody } from "../failure.ts";
import type { Deps } from "../caller.ts";
import { type Reachable, reachConnection, type UnifiedParts, withUpstream } from "./parts.ts";
import { performWrite, planChecked } from "./write.ts";

/** Integrations without a bulk endpoint get one call per operation, this many at a time. */
const CONCURRENCY = 4;

export type BatchOperation =
  | { method: "create"; data: z.infer<typeof UserInput> }
  | { method: "update"; id: string; data: z.infer<typeof UserInput> }
  | { method: "delete"; id: string };
/** One operation's outcome: what it made or changed, or why it failed (the route gives each its status). */
export type BatchOutcome = {
  method: BatchOperation["method"];
  id?: string | undefined;
} & ({ created: boolean; outcome?: "deleted" | "deactivated"; data?: User } | { failure: Failure });

/**
 * Many user writes on one connection, answered one result each, in order. Every operation is
 * checked and planned before any is sent, so one bad operation writes nothing. An integration
 * that declares a bulk endpoint (`batch:` in its integration.yaml) gets them in chunks within its
 * limits; any other gets one call per operation.
 */
export async function runBatch(
  deps: Deps<UnifiedParts>,
  connectionId: string,
  operations: BatchOperation[],
  withRemote: boolean,
): Promise<BatchOutcome[]> {
  const reachable = await reachConnection(deps, connectionId);
  const plans = await planAll(reachable, operations);
  return reachable.integration.batch ? viaBulk(deps, reachable, operations, plans) : oneByOne(deps, reachable, operations, withRemote);
}

const inputOf = (op: BatchOperation): WriteInput => ({ id: "id" in op ? op.id : undefined, data: "data" in op ? op.data : undefined });

async function planAll(reachable: Reachable, operations: BatchOperation[]): Promise<WritePlan[]> {
  const plans: WritePlan[] = [];
  for (const [index, op] of operations.entries()) {
    try {
      plans.push((await planChecked(reachable, "users", op.method, inputOf(op))).plan);
    } catch (error) {
      throw error instanceof Failure ? error.within(`operations.${index}`, `operation ${index}`) : error;
    }
  }
  return plans;
}

async function oneByOne(deps: Deps<UnifiedParts>, reachable: Reachable, operations: BatchOperation[], withRemote: boolean) {
  const results: BatchOutcome[] = new Array(operations.length);
  let next = 0;
  const worker = async () => {
    while (next < operations.length) {
      const index = next++;
      const op = operations[index]!;
      try {
        const { created, body } = await performWrite(deps, reachable, "users", op.method, inputOf(op), withRemote);
        results[index] =
          op.method === "delete"
            ? { method: op.method, created, id: String(body.id), outcome: body.outcome as "deleted" | "deactivated" }
            : { method: op.method, created, id: String(body.id), data: body as User };
      } catch (error) {
        if (!(error instanceof Failure)) throw error;
        results[index] = { method: op.method, ...("id" in op && { id: op.id }), failure: error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, operations.length) }, worker));
  return results;
}

async function viaBulk(deps: Deps<UnifiedParts>, reachable: Reachable, operations: BatchOperation[], plans: WritePlan[]) {
  const { integration } = reachable;
  let secrets: string[] = [];
  const outcomes = await withUpstream(deps, reachable, (target) => {
    secrets = Object.values(target.credentials);
    const writes = plans.map((plan, i) => ({ plan, input: inputOf(operations[i]!) }));
    return runBulk(deps.parts.upstream, target, integration.batch!, writes, deps.caller.signal);
  });
  return outcomes.map((outcome, index): BatchOutcome => {
    const op = operations[index]!;
    const id = "id" in op ? op.id : outcome.id;
    if (outcome.status >= 200 && outcome.status < 300) {
      return op.method === "delete"
        ? { method: op.method, created: false, ...(id && { id }), outcome: plans[index]!.outcome ?? "deleted" }
        : { method: op.method, created: op.method === "create", ...(id && { id }) };
    }
    const detail = (outcome.error as { detail?: unknown } | undefined)?.detail;
    const said = redacted(typeof detail === "string" ? `: ${detail}` : "", secrets);
    const applied = outcome.applied.length ? ` (already done before this failed: ${outcome.applied.join(", ")})` : "";
    const failure = new Failure(
      codeForUpstreamStatus(integration, outcome.status),
      `${integration.name} refused the operation (upstream status ${outcome.status})${said}${applied}`,
      { upstream: { status: outcome.status, body: upstreamBody(outcome.error, JSON.stringify(outcome.error ?? null), secrets) } },
    );
    return { method: op.method, ...(id && { id }), failure };
  });
}
