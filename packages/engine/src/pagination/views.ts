import { isAscii, isUtf8 } from "node:buffer";
import { createHash } from "node:crypto";
import { bodyOf, UpstreamShapeError } from "../calls.ts";
import { scanList } from "../json-scan.ts";
import type { UpstreamResponse } from "../upstream.ts";

/** Where a page's total is, when the vendor reports one. */
export interface TotalAt {
  total?: string | undefined;
  total_header?: string | undefined;
}

/** One upstream answer's records, seen parsed, as raw bytes, or both. */
export interface Records<Part> {
  length: number;
  total: number | undefined;
  /** A fingerprint of record i, to recognise it on another page. */
  key(i: number): string;
  /** Records from..from+count as one part. */
  take(from: number, count: number): Part;
}
export type View<Part> = (response: UpstreamResponse, records: string | undefined, totals: TotalAt | undefined) => Records<Part>;

/** `records: "$"`: the answer is itself the one record (an account's own settings, say). */
const WHOLE = "$";

function recordsAt(body: unknown, property: string | undefined): unknown[] {
  if (property === WHOLE) {
    if (!body || typeof body !== "object" || Array.isArray(body)) throw new UpstreamShapeError("the upstream answer is not a JSON object");
    return [body];
  }
  const value = property === undefined ? body : (body as Record<string, unknown> | null)?.[property];
  if (value === undefined && property !== undefined && body && typeof body === "object") return [];
  if (!Array.isArray(value)) throw new UpstreamShapeError(`the upstream answer has no record list${property ? ` at "${property}"` : ""}`);
  return value;
}

function totalOf(totals: TotalAt, response: UpstreamResponse): number | undefined {
  const raw = totals.total_header
    ? response.headers[totals.total_header.toLowerCase()]
    : totals.total
      ? // Stryker disable next-line OptionalChaining: a body that is not an object was refused as having no record list before its total is read
        (response.body as Record<string, unknown>)?.[totals.total]
      : undefined;
  const total = Number(raw);
  return raw === undefined || raw === null || !Number.isFinite(total) ? undefined : total;
}

export const parsedView: View<unknown[]> = (response, property, totals) => {
  const all = recordsAt(bodyOf(response), property);
  return {
    length: all.length,
    total: totals && totalOf(totals, response),
    key: (i) => fingerprint(JSON.stringify(all[i])),
    take: (from, count) => all.slice(from, from + count),
  };
};

/** A short digest of a record's bytes: equal records, equal fingerprints. */
function fingerprint(record: string | Uint8Array): string {
  // Stryker disable next-line MethodExpression: the whole digest recognises the same records; the cut only keeps cursors short
  return createHash("sha256").update(record).digest("base64url").slice(0, 22);
}

/**
 * The records' bytes as the upstream sent them (see json-scan.ts), or undefined when the scan
 * does not accept the body (not JSON by its content type, or not such a document).
 */
function scanned(response: UpstreamResponse, property: string | undefined, totals: TotalAt | undefined) {
  // The whole answer as one record is parsed: the scan finds lists only.
  const json = property !== WHOLE && /json/i.test(response.headers["content-type"] ?? "");
  const found = json ? scanList(response.bytes, property, totals?.total_header ? undefined : totals?.total) : undefined;
  if (!found) return undefined;
  // Spliced bytes must be UTF-8, or the answer would not be; parsing instead would swap the bad bytes for U+FFFD silently.
  if (!isUtf8(response.bytes)) throw new UpstreamShapeError("the upstream answered with a body that is not valid UTF-8");
  const { spans } = found;
  return {
    length: spans.length / 2,
    total: totals?.total_header ? totalOf(totals, response) : found.total,
    /** Records from..from+count as one slice of the body, commas between them included. */
    slice(from: number, count: number): Buffer {
      // Stryker disable next-line ArithmeticOperator: the walk takes at least one record and none past the last, so the clamp never bites
      const last = Math.min(from + count, spans.length / 2) - 1;
      // Stryker disable next-line ConditionalExpression: as above, `last < from` never holds when the walk takes
      return last < from ? Buffer.alloc(0) : response.bytes.subarray(spans[2 * from], spans[2 * last + 1]);
    },
    one: (i: number): Buffer => response.bytes.subarray(spans[2 * i], spans[2 * i + 1]),
  };
}

/** A body the scan does not accept is parsed instead, so a malformed page fails exactly as it does when parsed. */
export const rawView: View<Buffer> = (response, property, totals) => {
  const raw = scanned(response, property, totals);
  if (raw) return { length: raw.length, total: raw.total, key: (i) => fingerprint(raw.one(i)), take: raw.slice };
  const parsed = parsedView(response, property, totals);
  return { ...parsed, take: (from, count) => Buffer.from(JSON.stringify(parsed.take(from, count)).slice(1, -1)) };
};

/** Records parsed one by one from their own bytes, which are kept beside them. */
export interface RecordsAndBytes {
  records: unknown[];
  bytes: Buffer[];
}

export const recordView: View<RecordsAndBytes> = (response, property, totals) => {
  const raw = scanned(response, property, totals);
  if (!raw) {
    const parsed = parsedView(response, property, totals);
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
