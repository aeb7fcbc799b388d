import { Failure } from "../failure.ts";
import { openCursor } from "../cursor.ts";
import { type Deps, tenantScope } from "../caller.ts";
import type { EventsParts } from "./parts.ts";

/** The event log: a tenant's events after a cursor, oldest first. */
export async function listEvents(
  deps: Deps<EventsParts>,
  input: {
    after?: string | undefined;
    types?: string[] | undefined;
    connection_id?: string | undefined;
    tenant_id?: string | undefined;
    limit: number;
  },
) {
  const tenant = tenantScope(deps.caller, input.tenant_id);
  const binding = `events:${tenant ?? ""}`;
  let afterSeq: number | undefined;
  if (input.after !== undefined) {
    const state = (await openCursor(deps.parts.cursors, binding, input.after)) as { s?: unknown } | undefined;
    if (typeof state?.s !== "number") throw new Failure("invalid_cursor", "the cursor does not belong to this event log");
    afterSeq = state.s;
  }
  const page = await deps.parts.store.list({
    tenantId: tenant,
    afterSeq,
    types: input.types,
    connectionId: input.connection_id,
    limit: input.limit,
  });
  const last = page.rows.at(-1)?.seq ?? afterSeq ?? 0;
  // The cursor always moves to the last event returned, so a caller polls from it for what comes later.
  return { rows: page.rows, next_cursor: await deps.parts.cursors.seal(binding, { s: last }), has_more: page.more };
}
