import type { EventRow } from "@unifold/db";

/** The body every receiver gets, and the event log answers: one shape. */
export function presentEvent(event: EventRow) {
  return {
    id: event.id,
    type: event.type,
    created_at: event.createdAt.toISOString(),
    tenant_id: event.tenantId,
    connection_id: event.connectionId,
    integration: event.integration,
    version: event.version,
    data: event.data,
  };
}
