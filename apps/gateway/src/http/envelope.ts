import type { Context, TypedResponse } from "hono";

/*
 * The list envelope the contract gives every list: `{result, next_cursor, result_count}`.
 */

export function listEnvelope<T>(result: T[], nextCursor: string | null) {
  return { result, next_cursor: nextCursor, result_count: result.length };
}

/**
 * The list envelope around records that are already JSON: each element is one or more
 * comma-separated records, or one record in several pieces. The bytes are spliced in, never
 * parsed or re-serialised, and copied once.
 */
export function rawListEnvelope(
  elements: (Uint8Array | Uint8Array[])[],
  count: number,
  nextCursor: string | null,
): Uint8Array<ArrayBuffer> {
  const pieces: Uint8Array[] = [OPEN_LIST];
  for (const [i, element] of elements.entries()) {
    if (i > 0) pieces.push(COMMA);
    if (Array.isArray(element)) for (const piece of element) pieces.push(piece);
    else pieces.push(element);
  }
  pieces.push(Buffer.from(`],"next_cursor":${JSON.stringify(nextCursor)},"result_count":${count}}`));
  // Buffer.concat always allocates a fresh (never shared) ArrayBuffer.
  return Buffer.concat(pieces) as Uint8Array<ArrayBuffer>;
}
const OPEN_LIST = Buffer.from('{"result":[');
const COMMA = Buffer.from(",");

/**
 * Unified objects with `remote_data` as the upstream's own bytes for each record, spliced in
 * rather than serialised again: on a 100-record page that was the larger part of the answer's
 * serialisation. Each element is one JSON object in three pieces.
 */
export function withRemoteBytes(mapped: (Record<string, unknown> | undefined)[], bytes: Buffer[]): Buffer[][] {
  const out: Buffer[][] = [];
  for (const [i, object] of mapped.entries()) {
    if (!object) continue;
    // The objects come from the model check, which never lets a mapping write remote_data.
    const json = JSON.stringify(object);
    const head = json === "{}" ? '{"remote_data":' : `${json.slice(0, -1)},"remote_data":`;
    out.push([Buffer.from(head), bytes[i]!, CLOSE_OBJECT]);
  }
  return out;
}
const CLOSE_OBJECT = Buffer.from("}");

/**
 * Answers with JSON that is already bytes (spliced, never serialised again) as the route's typed
 * 200: the bytes are the route's documented shape, which the type system cannot see through.
 */
export function rawJson(c: Context, bytes: Uint8Array<ArrayBuffer>): TypedResponse<never, 200, "json"> {
  return c.body(bytes, 200, { "content-type": "application/json" }) as unknown as TypedResponse<never, 200, "json">;
}
