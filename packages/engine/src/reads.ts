import { isUtf8 } from "node:buffer";
import { createHash } from "node:crypto";
import { isAscii } from "node:buffer";
import type { Integration, OperationDefinition, PaginationStyle } from "./definition.ts";
import { scanList } from "./json-scan.ts";
import { render } from "./template.ts";
import type { QueryValue, UpstreamClient, UpstreamResponse, UpstreamTarget } from "./upstream.ts";

/** The upstream answered, but not with success. Carries what the caller needs to report it. */
export class UpstreamStatusError extends Error {
  constructor(
    readonly response: UpstreamResponse,
    readonly upstreamMessage: string | undefined,
    /** Earlier calls of the same write that had already taken effect. */
    readonly applied: string[] = [],
  ) {
    super(`upstream status ${response.status}${upstreamMessage ? `: ${upstreamMessage}` : ""}`);
    this.name = "UpstreamStatusError";
  }
}

/** The upstream answered 2xx with something that is not the promised shape (bad JSON, missing records). */
export class UpstreamShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UpstreamShapeError";
  }
}

export interface Page {
  records: unknown[];
  /** True exactly when records follow the last one returned. */
  more: boolean;
  /**
   * A fingerprint of this page's first record, for the next page's `seen`: an upstream that
   * answers a later position with the same records (it ignores the page position) is caught
   * instead of walked forever.
   */
  first?: string | undefined;
  /** The last upstream answer, for its rate-limit headers. */
  last: UpstreamResponse;
}

export interface ListRequest {
  path: string;
  query: Record<string, QueryValue | undefined>;
  pagination: PaginationStyle | undefined;
  /** Where records sit in an unpaged answer. */
  records: string | undefined;
  /** 0-based offset of the first record wanted, and how many. */
  offset: number;
  limit: number;
  /** The fingerprint of the first record of the previous page of this walk (see Page.first). */
  seen?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** Fills `{{id}}`-style placeholders in a path, each value URL-encoded as one segment. */
export function renderPath(template: string, params: Record<string, string>): string {
  const path = render(template, params, encodeURIComponent);
  if (path === undefined) throw new Error(`path ${template} needs ${Object.keys(params).join(", ") || "parameters"}`);
  return path;
}

export async function call(
  client: UpstreamClient,
  target: UpstreamTarget,
  method: string,
  path: string,
  query: ListRequest["query"],
  signal?: AbortSignal,
) {
  const response = await client.request(target, { method, path, query, signal });
  if (response.status < 200 || response.status >= 300) throw await statusError(target.integration, response);
  return response;
}

export async function statusError(integration: Integration, response: UpstreamResponse): Promise<UpstreamStatusError> {
  let message: string | undefined;
  if (integration.errorMessage && response.body !== undefined) {
    const value = await integration.errorMessage.evaluate(response.body).catch(() => undefined);
    if (typeof value === "string") message = value;
  }
  return new UpstreamStatusError(response, message);
}

function bodyOf(response: UpstreamResponse): unknown {
  if (response.body === undefined && response.text.length > 0)
    throw new UpstreamShapeError("the upstream answered with a body that is not valid JSON");
  return response.body;
}

function recordsAt(body: unknown, property: string | undefined): unknown[] {
  const value = property === undefined ? body : (body as Record<string, unknown> | null)?.[property];
  if (value === undefined && property !== undefined && body && typeof body === "object") return [];
  if (!Array.isArray(value)) throw new UpstreamShapeError(`the upstream answer has no record list${property ? ` at "${property}"` : ""}`);
  return value;
}

function totalOf(style: PaginationStyle, response: UpstreamResponse): number | undefined {
  const raw = style.total_header
    ? response.headers[style.total_header.toLowerCase()]
    : style.total
      ? (response.body as Record<string, unknown>)?.[style.total]
      : undefined;
  const total = Number(raw);
  return raw === undefined || raw === null || !Number.isFinite(total) ? undefined : total;
}

/** One upstream answer's records, seen parsed, as raw bytes, or both. */
interface Records<Part> {
  length: number;
  total: number | undefined;
  /** A fingerprint of record i, to recognise it on another page. */
  key(i: number): string;
  /** Records from..from+count as one part. */
  take(from: number, count: number): Part;
}
type View<Part> = (response: UpstreamResponse, records: string | undefined, style: PaginationStyle | undefined) => Records<Part>;

const parsedView: View<unknown[]> = (response, property, style) => {
  const all = recordsAt(bodyOf(response), property);
  return {
    length: all.length,
    total: style && totalOf(style, response),
    key: (i) => fingerprint(JSON.stringify(all[i])),
    take: (from, count) => all.slice(from, from + count),
  };
};

/** A short digest of a record's bytes: equal records, equal fingerprints. */
function fingerprint(record: string | Uint8Array): string {
  return createHash("sha256").update(record).digest("base64url").slice(0, 22);
}

/**
 * The records' bytes as the upstream sent them (see json-scan.ts), or undefined when the scan
 * does not accept the body (not JSON by its content type, or not such a document).
 */
function scanned(response: UpstreamResponse, property: string | undefined, style: PaginationStyle | undefined) {
  const json = /json/i.test(response.headers["content-type"] ?? "");
  const found = json ? scanList(response.bytes, property, style?.total_header ? undefined : style?.total) : undefined;
  if (!found) return undefined;
  // Spliced bytes must be UTF-8, or the answer would not be; parsing instead would swap the bad bytes for U+FFFD silently.
  if (!isUtf8(response.bytes)) throw new UpstreamShapeError("the upstream answered with a body that is not valid UTF-8");
  const { spans } = found;
  return {
    length: spans.length / 2,
    total: style?.total_header ? totalOf(style, response) : found.total,
    /** Records from..from+count as one slice of the body, commas between them included. */
    slice(from: number, count: number): Buffer {
      const last = Math.min(from + count, spans.length / 2) - 1;
      return last < from ? Buffer.alloc(0) : response.bytes.subarray(spans[2 * from], spans[2 * last + 1]);
    },
    one: (i: number): Buffer => response.bytes.subarray(spans[2 * i], spans[2 * i + 1]),
  };
}

/** A body the scan does not accept is parsed instead, so a malformed page fails exactly as it does when parsed. */
const rawView: View<Buffer> = (response, property, style) => {
  const raw = scanned(response, property, style);
  if (raw) return { length: raw.length, total: raw.total, key: (i) => fingerprint(raw.one(i)), take: raw.slice };
  const parsed = parsedView(response, property, style);
  return { ...parsed, take: (from, count) => Buffer.from(JSON.stringify(parsed.take(from, count)).slice(1, -1)) };
};

/** Records parsed one by one from their own bytes, which are kept beside them. */
interface RecordsAndBytes {
  records: unknown[];
  bytes: Buffer[];
}

const recordView: View<RecordsAndBytes> = (response, property, style) => {
  const raw = scanned(response, property, style);
  if (!raw) {
    const parsed = parsedView(response, property, style);
    return {
      ...parsed,
      take(from, count) {
        const records = parsed.take(from, count);
        return { records, bytes: records.map((record) => Buffer.from(JSON.stringify(record))) };
      },
    };
  }
  return {
    length: raw.length,
    total: raw.total,
    key: (i) => fingerprint(raw.one(i)),
    take(from, count) {
      const out: RecordsAndBytes = { records: [], bytes: [] };
      for (let i = from; i < Math.min(from + count, raw.length); i++) {
        const bytes = raw.one(i);
        out.records.push(parseRecord(bytes));
        out.bytes.push(bytes);
      }
      return out;
    },
  };
};

/**
 * One record's JSON. An ASCII record is decoded as Latin-1, which for ASCII is the same text and
 * several times cheaper; decoding the page whole would make every record pay for one accented name.
 */
export function parseRecord(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString(isAscii(bytes) ? "latin1" : "utf8"));
  } catch {
    // The scan checks structure, not what is inside strings (escapes, control characters).
    throw new UpstreamShapeError("the upstream answered with a body that is not valid JSON");
  }
}

/**
 * One gateway page from an upstream list: as many upstream pages as `limit` needs, each no
 * larger than the vendor's maximum, asking for one record more than needed where the vendor
 * allows it, so `more` is exact even for lists that report no total.
 */
export async function readList(client: UpstreamClient, target: UpstreamTarget, req: ListRequest): Promise<Page> {
  const { records, more, last, first } = await readListWithBytes(client, target, req);
  return { records, more, last, first };
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
  const { parts, more, last, first } = await readPages(client, target, req, recordView);
  return { records: parts.flatMap((part) => part.records), bytes: parts.flatMap((part) => part.bytes), more, last, first };
}

/**
 * `readList` for the proxy: the records' raw JSON, in parts to be joined with commas, never
 * parsed or re-serialised.
 */
export async function readRawList(
  client: UpstreamClient,
  target: UpstreamTarget,
  req: ListRequest,
): Promise<{ parts: Buffer[]; count: number; more: boolean; last: UpstreamResponse; first?: string | undefined }> {
  return readPages(client, target, req, rawView);
}

async function readPages<Part>(client: UpstreamClient, target: UpstreamTarget, req: ListRequest, view: View<Part>) {
  const style = req.pagination;
  const parts: Part[] = [];
  if (!style) {
    const last = await call(client, target, "GET", req.path, req.query, req.signal);
    const all = view(last, req.records, undefined);
    const count = Math.max(0, Math.min(req.limit, all.length - req.offset));
    if (count > 0) parts.push(all.take(req.offset, count));
    return { parts, count, more: all.length > req.offset + req.limit, last };
  }
  let count = 0;
  let more: boolean | undefined;
  let last: UpstreamResponse | undefined;
  let first: string | undefined;
  const firsts = new Set(req.seen ? [req.seen] : []);
  while (count < req.limit) {
    const want = req.limit - count;
    const ask = Math.min(want + 1, style.max);
    const position = req.offset + count;
    last = await call(client, target, "GET", req.path, pageQuery(style, req.query, position, ask), req.signal);
    const page = view(last, style.records, style);
    if (page.length === 0) {
      // An empty page ends the walk, whatever total the upstream claims.
      more = false;
      break;
    }
    const key = page.key(0);
    if (firsts.has(key)) {
      throw new UpstreamShapeError(
        `the upstream answered position ${position + style.base} with records it had already answered for an earlier one: it does not page by ${style.offset_param}`,
      );
    }
    firsts.add(key);
    first ??= key;
    const taken = Math.min(page.length, want);
    if (taken > 0) parts.push(page.take(0, taken));
    count += taken;
    const total = page.total;
    if (page.length > want) {
      more = true;
      break;
    }
    if (page.length < ask) {
      more = total === undefined ? false : req.offset + count < total;
      break;
    }
    if (total !== undefined) {
      // A full page and a known total: no probe needed.
      more = req.offset + count < total;
      if (!more || count >= req.limit) break;
    }
  }
  if (more === undefined) {
    // The last page was exactly full at the vendor's maximum: one tiny probe tells whether more follow.
    last = await call(client, target, "GET", req.path, pageQuery(style, req.query, req.offset + count, 1), req.signal);
    more = view(last, style.records, style).length > 0;
  }
  return { parts, count, more, last: last as UpstreamResponse, first };
}

function pageQuery(style: PaginationStyle, query: ListRequest["query"], position: number, size: number) {
  return { ...style.query, ...query, [style.offset_param]: String(position + style.base), [style.limit_param]: String(size) };
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
