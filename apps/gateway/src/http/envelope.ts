import type { TypedResponse } from "hono";

/*
 * The list envelope the contract gives every list: `{result, next_cursor, result_count}`.
 */

export function listEnvelope<T>(result: T[], nextCursor: string | null) {
  return { result, next_cursor: nextCursor, result_count: result.length };
}

/** A piece of an answer: bytes that are already JSON, or JSON text to be written as UTF-8. */
export type JsonPiece = Uint8Array | string;

/**
 * The list envelope around records that are already JSON: each element is one or more
 * comma-separated records, or one record in several pieces. Bytes are spliced in, never parsed
 * or re-serialised; text is encoded straight into the answer. Everything is written once, into
 * one buffer of the exact size: a Buffer per piece and a concatenation of them was a second
 * copy and ~100 allocations on every unified page.
 */
export function rawListEnvelope(elements: (JsonPiece | JsonPiece[])[], count: number, nextCursor: string | null): Uint8Array<ArrayBuffer> {
  const tail = `],"next_cursor":${JSON.stringify(nextCursor)},"result_count":${count}}`;
  let size = OPEN_LIST.length + Buffer.byteLength(tail) + Math.max(0, elements.length - 1);
  for (const element of elements) {
    if (Array.isArray(element)) for (const piece of element) size += byteLength(piece);
    else size += byteLength(element);
  }
  // allocUnsafeSlow: an ArrayBuffer of its own (a pooled one is shared, and may not be answered whole);
  // every byte of it is written below.
  const out = Buffer.allocUnsafeSlow(size);
  let at = out.write(OPEN_LIST, 0, "latin1");
  for (let i = 0; i < elements.length; i++) {
    if (i > 0) out[at++] = COMMA;
    const element = elements[i]!;
    if (Array.isArray(element)) for (const piece of element) at = put(out, at, piece);
    else at = put(out, at, element);
  }
  // The buffer starts uninitialised: an answer one byte short of its size would carry old memory.
  if (at + out.write(tail, at) !== size) throw new Error("the list envelope's size was miscounted");
  return out as Uint8Array<ArrayBuffer>;
}
const OPEN_LIST = '{"result":[';
const COMMA = 0x2c;
const byteLength = (piece: JsonPiece) => (typeof piece === "string" ? Buffer.byteLength(piece) : piece.length);
function put(out: Buffer, at: number, piece: JsonPiece): number {
  if (typeof piece === "string") return at + out.write(piece, at);
  out.set(piece, at);
  return at + piece.length;
}

/**
 * Unified objects with `remote_data` as the upstream's own bytes for each record, spliced in
 * rather than serialised again: on a 100-record page that was the larger part of the answer's
 * serialisation. Each element is one JSON object in three pieces.
 */
export function withRemoteBytes(mapped: (Record<string, unknown> | undefined)[], bytes: Buffer[]): JsonPiece[][] {
  const out: JsonPiece[][] = [];
  for (const [i, object] of mapped.entries()) {
    if (!object) continue;
    // The objects come from the model check, which never lets a mapping write remote_data.
    const json = JSON.stringify(object);
    out.push([json === "{}" ? '{"remote_data":' : `${json.slice(0, -1)},"remote_data":`, bytes[i]!, "}"]);
  }
  return out;
}

/**
 * A 200 of JSON already serialised (bytes spliced, or text), with `headers` (the upstream's
 * rate-limit state) beside its content type, typed as the route's 200: the body is its
 * documented shape, which the type system cannot see through.
 *
 * A Response of its own, not c.body or c.json: hono turns more than one header into a WHATWG
 * Headers, which @hono/node-server then converts back, where a plain object is written as it is;
 * these are the two busiest routes. Headers set earlier with c.header would be dropped, so nothing
 * before them sets any (the request id is set on Node's response; see request-id.ts).
 */
export function rawJson(body: Uint8Array<ArrayBuffer> | string, headers: Record<string, string> = {}): TypedResponse<never, 200, "json"> {
  return new Response(body, { status: 200, headers: { ...headers, "content-type": "application/json" } }) as unknown as TypedResponse<
    never,
    200,
    "json"
  >;
}
