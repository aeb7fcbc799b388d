import { bodyOf, call, renderPath, UpstreamShapeError } from "./calls.ts";
import type { OperationDefinition } from "./definition.ts";
import { type ListRequest, type Position, walk } from "./pagination/walk.ts";
import { parsedView, rawView, recordView } from "./pagination/views.ts";
import type { UpstreamClient, UpstreamResponse, UpstreamTarget } from "./upstream.ts";

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
