import { z } from "@hono/zod-openapi";
import type { Keyset } from "@unifold/db";
import { type CursorCodec, CursorError } from "@unifold/engine";
import { ApiError } from "./errors.ts";

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ description: "Page size, 1–200." }),
  cursor: z.string().max(4096).optional().openapi({ description: "The previous page's `next_cursor`." }),
};

/** Opens a caller's cursor, mapping every failure to 400 invalid_cursor. */
export async function openCursor(codec: CursorCodec, binding: string, token: string): Promise<unknown> {
  try {
    return await codec.open(binding, token);
  } catch (error) {
    if (error instanceof CursorError) throw new ApiError("invalid_cursor", error.message);
    throw error;
  }
}

/**
 * Where a unified or proxy list cursor stands: the upstream offset (0 without a cursor) and the
 * fingerprint of the previous page's first record, by which an upstream that repeats a page is
 * caught (see ListRequest.seen).
 */
export async function openPosition(
  codec: CursorCodec,
  binding: string,
  token: string | undefined,
): Promise<{ offset: number; seen: string | undefined }> {
  if (token === undefined) return { offset: 0, seen: undefined };
  const state = (await openCursor(codec, binding, token)) as { o?: unknown; f?: unknown } | null;
  if (typeof state?.o !== "number" || !Number.isInteger(state.o) || state.o < 0 || (state.f !== undefined && typeof state.f !== "string"))
    throw new ApiError("invalid_cursor", "the cursor does not belong to this list");
  return { offset: state.o, seen: state.f as string | undefined };
}

/** The next page's cursor: where it starts, and this page's first record's fingerprint. */
export function sealPosition(codec: CursorCodec, binding: string, offset: number, first: string | undefined): Promise<string> {
  return codec.seal(binding, first === undefined ? { o: offset } : { o: offset, f: first });
}

const keysetState = z.object({ t: z.number().int(), i: z.string().uuid() });

export async function openKeyset(codec: CursorCodec, binding: string, token: string | undefined): Promise<Keyset | undefined> {
  if (token === undefined) return undefined;
  const state = keysetState.safeParse(await openCursor(codec, binding, token));
  if (!state.success) throw new ApiError("invalid_cursor", "the cursor does not belong to this list");
  return { createdAt: new Date(state.data.t), id: state.data.i };
}

export async function sealKeyset(codec: CursorCodec, binding: string, next: Keyset | null): Promise<string | null> {
  return next ? codec.seal(binding, { t: next.createdAt.getTime(), i: next.id }) : null;
}

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
