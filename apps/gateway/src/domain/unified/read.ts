import {
  FilterNotSupported,
  type Position,
  rateLimitHeaders,
  readDelta,
  readListWithBytes,
  readOne,
  renderPath,
  type UnifiedFilter,
  type UnifiedResource,
  upstreamListOf,
} from "@unifold/engine";
import { PushedConnection } from "../connections/index.ts";
import { Failure, failureOf } from "../failure.ts";
import { openCursor, sealCursor } from "../cursor.ts";
import type { Deps } from "../caller.ts";
import { checkFilters, supportedOperation, unifyAll, unifyEach } from "./operations.ts";
import { reachConnection, type UnifiedParts, withUpstream } from "./parts.ts";

/** The connection a read names, or undefined for a pushed one: that is read from its copy instead. */
function reachUnlessPushed(deps: Deps<UnifiedParts>, id: string) {
  return reachConnection(deps, id).catch((error: unknown) => {
    if (error instanceof PushedConnection) return undefined;
    throw error;
  });
}

export interface ListInput {
  connectionId: string;
  resource: UnifiedResource;
  /** The parent record of a nested list (a group's members). */
  parentId?: string | undefined;
  filters: Partial<Record<UnifiedFilter, string>>;
  limit: number;
  cursor?: string | undefined;
}

export interface UnifiedPage {
  /** One entry per upstream record: the unified object, or undefined where a mapping dropped it. */
  objects: (Record<string, unknown> | undefined)[];
  /** Each record's bytes as the upstream sent them, for `remote_data`. */
  bytes: Buffer[];
  next_cursor: string | null;
  /** The upstream's rate-limit state, as `ratelimit-*` headers. */
  rateLimit: Record<string, string>;
}

/** One page of a unified list, read through the connection's integration and held to the model. */
export async function listUnified(deps: Deps<UnifiedParts>, input: ListInput): Promise<UnifiedPage> {
  const { parts, caller } = deps;
  const reachable = await reachUnlessPushed(deps, input.connectionId);
  if (!reachable) return parts.pushed.readList(caller, input);
  const { connection, integration } = reachable;
  const op = supportedOperation(integration, input.resource, "list");
  const filters = Object.fromEntries(Object.entries(input.filters).filter(([, value]) => value !== undefined)) as Record<string, string>;
  checkFilters(integration, input.resource, op, filters);
  // A filter the vendor cannot apply is refused before any call.
  const upstream = await upstreamListOf(integration, input.resource, op, filters).catch((error: unknown) => {
    throw error instanceof FilterNotSupported ? failureOf(integration, error, []) : error;
  });
  const binding = `${connection.id}|${input.resource}|${input.parentId ?? ""}|${JSON.stringify(filters)}`;
  const position = await openCursor(parts.cursors, binding, input.cursor);
  const page = await withUpstream(deps, reachable, async (target) => {
    const result = await readListWithBytes(parts.upstream, target, {
      path: renderPath(op.path, input.parentId === undefined ? {} : { id: input.parentId }),
      ...upstream,
      position,
      limit: input.limit,
      signal: caller.signal,
    });
    return { ...result, objects: await unifyEach(parts, integration, input.resource, op, result.records) };
  });
  return {
    objects: page.objects,
    bytes: page.bytes,
    next_cursor: await sealCursor(parts.cursors, binding, page.next as Position | undefined),
    rateLimit: rateLimitHeaders(integration, page.last),
  };
}

export interface ChangesInput {
  connectionId: string;
  resource: UnifiedResource;
  /** The link an earlier round ended with; absent, the round answers every record. */
  from?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface ChangesPage {
  /** The unified objects of the records changed (undefined where a mapping dropped one). */
  objects: (Record<string, unknown> | undefined)[];
  /** The ids of the records deleted upstream. */
  removed: string[];
  next_cursor: string | null;
  /** On a round's last page: where the next round starts. */
  delta_link?: string | undefined;
}

/**
 * One page of a delta round (the integration's `delta` query for the resource): what changed
 * since `from`, for a sync. A deleted record is named by the id its mapping gives it.
 */
export async function readChanges(deps: Deps<UnifiedParts>, input: ChangesInput): Promise<ChangesPage> {
  const { parts, caller } = deps;
  const reachable = await reachConnection(deps, input.connectionId);
  const { connection, integration } = reachable;
  const delta = integration.resources[input.resource]?.delta;
  if (!delta || !("path" in delta)) throw new Failure("invalid_request", `${integration.name} offers no delta query for ${input.resource}`);
  const binding = `${connection.id}|${input.resource}|delta|${input.from ?? ""}`;
  const position = await openCursor(parts.cursors, binding, input.cursor);
  const page = await withUpstream(deps, reachable, async (target) => {
    const result = await readDelta(parts.upstream, target, delta, {
      from: input.from,
      position,
      limit: input.limit,
      signal: caller.signal,
    });
    const objects = await unifyEach(parts, integration, input.resource, delta, result.records);
    return { ...result, objects };
  });
  const objects: (Record<string, unknown> | undefined)[] = [];
  const removed: string[] = [];
  page.objects.forEach((object, i) => {
    if (!page.removed[i]) objects.push(object);
    else if (typeof object?.id === "string") removed.push(object.id);
  });
  return {
    objects,
    removed,
    next_cursor: await sealCursor(parts.cursors, binding, page.next as Position | undefined),
    delta_link: page.deltaLink,
  };
}

export interface GetInput {
  connectionId: string;
  resource: UnifiedResource;
  /** Absent for a resource without an id (`me`). */
  id?: string | undefined;
  withRemote: boolean;
}

/** One unified record, or 404 where the integration's mapping drops it. */
export async function getUnified(deps: Deps<UnifiedParts>, input: GetInput) {
  const { parts, caller } = deps;
  const reachable = await reachUnlessPushed(deps, input.connectionId);
  if (!reachable) return parts.pushed.readOne(caller, input);
  const { integration } = reachable;
  const op = supportedOperation(integration, input.resource, "get");
  const { object, last } = await withUpstream(deps, reachable, async (target) => {
    const params: Record<string, string> = input.id === undefined ? {} : { id: input.id };
    const { record, last } = await readOne(parts.upstream, target, op, params, caller.signal);
    const [object] = await unifyAll(parts, integration, input.resource, op, [record], input.withRemote);
    return { object, last };
  });
  if (!object) throw new Failure("not_found", `${integration.name} has no such ${input.resource}`);
  return { object, rateLimit: rateLimitHeaders(integration, last) };
}
