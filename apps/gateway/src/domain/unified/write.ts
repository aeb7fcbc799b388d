import {
  planWrite,
  readList,
  readOne,
  runPlan,
  type UnifiedResource,
  UpstreamFailure,
  upstreamResponse,
  UpstreamStatusError,
  type UpstreamTarget,
  type WriteInput,
  type WriteKind,
  type WritePlan,
  upstreamListOf,
  writtenRecord,
} from "@unifold/engine";
import { Failure } from "../failure.ts";
import type { Deps } from "../caller.ts";
import { checkFields, supportedOperation, unifyAll } from "./operations.ts";
import { type Reachable, reachConnection, type UnifiedParts, withUpstream } from "./parts.ts";

export interface WriteResult {
  /** A record (or membership) was made, not changed or removed. */
  created: boolean;
  body: Record<string, unknown>;
}

export interface UnifiedWrite {
  connectionId: string;
  resource: UnifiedResource;
  kind: WriteKind;
  input: WriteInput;
  withRemote: boolean;
}

/** One unified write on the connection the caller names. */
export async function writeUnified(deps: Deps<UnifiedParts>, write: UnifiedWrite): Promise<WriteResult> {
  const reachable = await reachConnection(deps, write.connectionId);
  return performWrite(deps, reachable, write.resource, write.kind, write.input, write.withRemote);
}

/** Checks the fields and plans the upstream calls; a bad write is refused before anything is sent. */
export async function planChecked(reachable: Reachable, resource: UnifiedResource, kind: WriteKind, input: WriteInput) {
  const { integration } = reachable;
  const op = supportedOperation(integration, resource, kind);
  checkFields(integration, resource, kind, op, input.data);
  const plan = await planWrite(integration, op, input);
  if (plan.invalid) {
    throw new Failure("invalid_request", `${integration.name}: ${plan.invalid.message}`, {
      details: [{ path: plan.invalid.field, message: plan.invalid.message }],
    });
  }
  return { op, plan };
}

/**
 * One unified write, start to end: checks the fields against what the vendor can set, plans the
 * upstream calls with the integration's request mapping, makes them in order, and answers in
 * the unified model. Shared by the single routes and by batches sent one call per operation.
 */
export async function performWrite(
  deps: Deps<UnifiedParts>,
  reachable: Reachable,
  resource: UnifiedResource,
  kind: WriteKind,
  input: WriteInput,
  withRemote: boolean,
): Promise<WriteResult> {
  const { parts, caller } = deps;
  const { integration } = reachable;
  const { op, plan } = await planChecked(reachable, resource, kind, input);
  return withUpstream(deps, reachable, async (target) => {
    const responses =
      resource === "users" && kind === "create"
        ? await createWithoutDuplicates(deps, target, plan, input)
        : await runPlan(parts.upstream, target, plan, input, caller.signal);
    if (resource === "group_members") {
      return { created: kind !== "delete", body: { user_id: input.data?.user_id, group_id: input.id } };
    }
    if (kind === "delete") return { created: false, body: { id: input.id, outcome: plan.outcome ?? "deleted" } };
    let record = op.refetch ? undefined : writtenRecord(responses);
    if (!record) {
      const id = input.id ?? String(writtenRecord(responses)?.id ?? "");
      const get = supportedOperation(integration, resource, "get");
      record = (await readOne(parts.upstream, target, get, { id }, caller.signal)).record as Record<string, unknown>;
    }
    const [object] = await unifyAll(parts, integration, resource, op, [record], withRemote);
    if (!object) throw new Failure("upstream_error", `${integration.name} answered the ${kind} without a ${resource} record`);
    return { created: kind === "create", body: object };
  });
}

/**
 * A create is never retried blindly. When the call failed before any answer: a refused connection
 * proves the vendor never saw it, so it is sent once more; any other failure (timeout, reset) may
 * have landed, so the gateway first looks the user up by username — found, that is the created
 * user; proven absent, it is sent once more.
 */
async function createWithoutDuplicates(deps: Deps<UnifiedParts>, target: UpstreamTarget, plan: WritePlan, input: WriteInput) {
  const { parts, caller } = deps;
  const { signal } = caller;
  const username = input.data?.username;
  /** The user a create whose outcome is unknown may have made, as the create's own answer. */
  const landed = async (why: string) => {
    if (typeof username !== "string") return undefined;
    const existing = await findByUsername(deps, target, username);
    if (!existing) return undefined;
    parts.logger.warn({ integration: target.integration.slug }, `${why}; answering with the user found`);
    return [upstreamResponse(201, { "content-type": "application/json" }, Buffer.from(JSON.stringify(existing)))];
  };
  if (caller.resumed) {
    const found = await landed("an earlier run with this Idempotency-Key never finished but had created the user");
    if (found) return found;
  }
  try {
    return await runPlan(parts.upstream, target, plan, input, signal);
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
    return await runPlan(parts.upstream, target, plan, input, signal);
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
async function findByUsername({ parts, caller }: Deps<UnifiedParts>, target: UpstreamTarget, username: string): Promise<unknown> {
  const { integration } = target;
  const op = integration.resources.users?.list;
  if (!op?.filters.includes("username") || !op.query_mapping) return undefined;
  const page = await readList(parts.upstream, target, {
    path: op.path,
    ...(await upstreamListOf(integration, "users", op, { username })),
    limit: 10,
    signal: caller.signal,
  });
  const users = await unifyAll(parts, integration, "users", op, page.records, true);
  return users.find((user) => user.username === username)?.remote_data;
}
