import { z } from "zod";
import { Failure } from "../failure.ts";
import { openCursor } from "../cursor.ts";
import type { Deps } from "../caller.ts";
import type { SyncsParts } from "./parts.ts";

const position = z.object({ m: z.number().int(), r: z.string() });

/** The synced copy of one resource of a connection the caller reaches, oldest change first; no vendor call. */
export async function listRecords(
  deps: Deps<SyncsParts>,
  resource: string,
  input: { connection_id: string; modified_after?: string | undefined; cursor?: string | undefined; limit: number },
) {
  const { parts, caller } = deps;
  const connection = await parts.connections.find(input.connection_id);
  if (!connection || (caller.apiKey.tenantId && connection.tenantId !== caller.apiKey.tenantId)) {
    throw new Failure("not_found", `no connection with id ${input.connection_id}`);
  }
  const binding = `records:${connection.id}:${resource}:${input.modified_after ?? ""}`;
  const opened = position.safeParse(await openCursor(parts.cursors, binding, input.cursor));
  if (input.cursor !== undefined && !opened.success) throw new Failure("invalid_cursor", "the cursor does not belong to this list");
  const page = await parts.store.records({
    connectionId: connection.id,
    resource,
    modifiedAfter: input.modified_after ? new Date(input.modified_after) : undefined,
    after: opened.success ? { modifiedAt: new Date(opened.data.m), remoteId: opened.data.r } : undefined,
    limit: input.limit,
  });
  const last = page.rows.at(-1);
  return {
    rows: page.rows.map((row) => ({
      id: row.remoteId,
      version: row.version,
      first_seen_at: row.firstSeenAt.toISOString(),
      last_seen_at: row.lastSeenAt.toISOString(),
      modified_at: row.modifiedAt.toISOString(),
      deleted_at: row.deletedAt?.toISOString() ?? null,
      data: row.data,
    })),
    next_cursor: page.more && last ? await parts.cursors.seal(binding, { m: last.modifiedAt.getTime(), r: last.remoteId }) : null,
  };
}
