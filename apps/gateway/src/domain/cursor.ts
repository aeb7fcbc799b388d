import type { Keyset } from "@unifold/db";
import { type CursorCodec, CursorError, type Position } from "@unifold/engine";
import { z } from "zod";
import { Failure } from "./failure.ts";

/*
 * A caller's cursor is sealed (encrypted and authenticated) and bound to its list: the
 * connection, resource and filters it was made for. What it holds is the walk's own position.
 */

/** Opens a caller's cursor, answering every failure as 400 invalid_cursor. */
export async function openCursor(codec: CursorCodec, binding: string, token: string | undefined): Promise<unknown> {
  if (token === undefined) return undefined;
  try {
    return await codec.open(binding, token);
  } catch (error) {
    if (error instanceof CursorError) throw new Failure("invalid_cursor", error.message);
    throw error;
  }
}

/** The next page's cursor, or null at the end. */
export async function sealCursor(codec: CursorCodec, binding: string, next: Position | undefined): Promise<string | null> {
  return next === undefined ? null : codec.seal(binding, next);
}

const keysetState = z.object({ t: z.number().int(), i: z.string().uuid() });

/** Where a list of the gateway's own rows (connections, API keys) continues. */
export async function openKeyset(codec: CursorCodec, binding: string, token: string | undefined): Promise<Keyset | undefined> {
  if (token === undefined) return undefined;
  const state = keysetState.safeParse(await openCursor(codec, binding, token));
  if (!state.success) throw new Failure("invalid_cursor", "the cursor does not belong to this list");
  return { createdAt: new Date(state.data.t), id: state.data.i };
}

export async function sealKeyset(codec: CursorCodec, binding: string, next: Keyset | null): Promise<string | null> {
  return next ? codec.seal(binding, { t: next.createdAt.getTime(), i: next.id }) : null;
}

/**
 * One page of a list of the gateway's own rows: opens the caller's cursor, loads the rows after
 * it, and seals where the next page starts. `binding` names the list (and its filters).
 */
export async function keysetPage<T>(
  codec: CursorCodec,
  binding: string,
  token: string | undefined,
  load: (after: Keyset | undefined) => Promise<{ rows: T[]; next: Keyset | null }>,
): Promise<{ rows: T[]; next_cursor: string | null }> {
  const page = await load(await openKeyset(codec, binding, token));
  return { rows: page.rows, next_cursor: await sealKeyset(codec, binding, page.next) };
}
