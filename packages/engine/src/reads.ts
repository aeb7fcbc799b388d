import { bodyOf, call, renderPath, UpstreamShapeError } from "./calls.ts";
import type { DeltaQuery, Integration, OperationDefinition, UnifiedResource } from "./definition.ts";
import { atPath, linkUnderBase, type ListRequest, type Position, walk } from "./pagination/walk.ts";
import { parsedView, rawView, recordView } from "./pagination/views.ts";
import { baseUrlOf, type UpstreamClient, type UpstreamResponse, type UpstreamTarget } from "./upstream.ts";

export interface Page {
  records: unknown[];
  /** Where the following page starts (seal it in the caller's cursor); undefined exactly when no records follow. */
  next: Position | undefined;
  /** The last upstream answer, for its rate-limit headers. */
  last: UpstreamResponse;
}

/**
 * One gateway page from an upstream list: as many upstream pages as `limit` needs, walked the
 * way the integration's pagination style says (offsets, page numbers, body tokens, links).
 */
export async function readList(client: UpstreamClient, target: UpstreamTarget, req: ListRequest): Promise<Page> {
  const { parts, next, last } = await walk(client, target, req, parsedView);
  return { records: parts.flat(), next, last };
}

/**
 * `readList` that keeps each record's bytes as the upstream sent them beside the parsed record,
 * so a unified page can carry `remote_data` without serialising it again. Records are parsed
 * one by one from those bytes (see `parseRecord`).
 */
export async function readListWithBytes(
  client: UpstreamClient,
  target: UpstreamTarget,
  req: ListRequest,
): Promise<Page & { bytes: Buffer[] }> {
  const { parts, next, last } = await walk(client, target, req, recordView);
  return { records: parts.flatMap((part) => part.records), bytes: parts.flatMap((part) => part.bytes), next, last };
}

/**
 * `readList` for the proxy: the records' raw JSON, in parts to be joined with commas, never
 * parsed or re-serialised.
 */
export async function readRawList(
  client: UpstreamClient,
  target: UpstreamTarget,
  req: ListRequest,
): Promise<{ parts: Buffer[]; count: number; next: Position | undefined; last: UpstreamResponse }> {
  return walk(client, target, req, rawView);
}

/**
 * One gateway page of a delta round: the records changed since `from` (a link an earlier round
 * ended with; absent, every record), which of them are deletions, and at the round's end the
 * link of the next one, as a path under the connection's base URL.
 */
export async function readDelta(
  client: UpstreamClient,
  target: UpstreamTarget,
  delta: DeltaQuery,
  req: Omit<ListRequest, "pagination" | "records" | "path" | "query"> & { from?: string | undefined },
): Promise<Page & { removed: boolean[]; deltaLink?: string | undefined }> {
  const pagination = delta.pagination ? target.integration.pagination[delta.pagination] : undefined;
  if (pagination?.type !== "body_link" && pagination?.type !== "link_header")
    throw new Error(`${target.integration.slug}: a delta query pages by links, so a round can start from one`);
  // A round resumed from a link starts at that link, as a page of the walk would.
  const position = req.position ?? (req.from === undefined ? undefined : { k: req.from, i: 0 });
  const { parts, next, last } = await walk(
    client,
    target,
    { ...req, path: delta.path, query: delta.query, pagination, records: undefined, position },
    parsedView,
  );
  const records = parts.flat();
  const removed = records.map((record) => atPath(record, delta.removed) !== undefined);
  if (next) return { records, removed, next, last };
  const link = atPath(last.body, delta.delta_link);
  if (typeof link !== "string" || link === "")
    throw new UpstreamShapeError("the upstream ended a delta round without the link of the next one");
  return { records, removed, next, last, deltaLink: linkUnderBase(target, link, baseUrlOf(target)) };
}

export async function readOne(
  client: UpstreamClient,
  target: UpstreamTarget,
  op: OperationDefinition,
  params: Record<string, string>,
  signal?: AbortSignal,
): Promise<{ record: unknown; last: UpstreamResponse }> {
  const last = await call(client, target, op.method, renderPath(op.path, params), op.query, signal);
  const body = bodyOf(last);
  if (body === null || typeof body !== "object") throw new UpstreamShapeError("the upstream answer is not a JSON object");
  return { record: body, last };
}

/** The vendor cannot filter this list so (its query mapping said `unsupported`). */
export class FilterNotSupported extends Error {
  /** The filter the mapping named, as `field=value` or `field`. */
  readonly filter: string;
  constructor(integration: Integration, resource: string, filter: string) {
    super(`${integration.name} (${integration.slug}) cannot filter ${resource} by ${filter}`);
    this.name = "FilterNotSupported";
    this.filter = filter;
  }
}

/**
 * How a list operation asks its upstream for these filters: the query (through the operation's
 * query mapping), and the pagination style — or, where the vendor cannot page a filtered list
 * (`unpaged_when_filtered`), no style and where the records sit in the one answer.
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
    if (out?.unsupported) throw new FilterNotSupported(integration, resource, out.unsupported);
    query = { ...query, ...out?.query };
  }
  const style = op.pagination ? integration.pagination[op.pagination] : undefined;
  const paginated = style && !(Object.keys(filters).length > 0 && op.unpaged_when_filtered);
  const pagination = paginated ? style : undefined;
  const records = paginated ? undefined : (op.records ?? style?.records);
  return { query, pagination, records };
}
