import type { Delivery, EndpointPatch, WebhookEndpoint } from "@unifold/db";
import { hostRefusal } from "@unifold/engine";
import { Failure } from "../failure.ts";
import { keysetPage } from "../cursor.ts";
import { type Deps, tenantOf } from "../caller.ts";
import type { EndpointParts } from "./parts.ts";
import { shownUrl } from "./url.ts";

export function presentEndpoint(endpoint: WebhookEndpoint) {
  return {
    id: endpoint.id,
    tenant_id: endpoint.tenantId,
    url: shownUrl(endpoint.url),
    description: endpoint.description,
    events: endpoint.events,
    enabled: endpoint.enabled,
    disabled_reason: endpoint.disabledReason,
    failing_since: endpoint.failingSince?.toISOString() ?? null,
    created_at: endpoint.createdAt.toISOString(),
    updated_at: endpoint.updatedAt.toISOString(),
  };
}

export function presentDelivery(delivery: Delivery) {
  return {
    id: delivery.id,
    endpoint_id: delivery.endpointId,
    event_id: delivery.eventId,
    attempt: delivery.attempt,
    outcome: delivery.outcome,
    response_status: delivery.responseStatus,
    latency_ms: delivery.latencyMs,
    error: delivery.error,
    created_at: delivery.createdAt.toISOString(),
  };
}

/**
 * Endpoint URLs pass the SSRF policy of upstream calls (no loopback or private address unless
 * allowed; only the allowed hosts when a list is set), and carry no credentials of their own:
 * the URL is shown in listings and events.
 */
function checkUrl(parts: EndpointParts, url: string) {
  const parsed = new URL(url);
  const refused =
    parsed.protocol !== "http:" && parsed.protocol !== "https:"
      ? "must be http or https"
      : parsed.username || parsed.password
        ? "must not carry a user name or password; authenticate deliveries by their signature"
        : hostRefusal(parts.network, parsed.hostname);
  if (refused) throw new Failure("invalid_request", `url: ${refused}`, { details: [{ path: "url", message: refused }] });
}

export async function createEndpoint(
  deps: Deps<EndpointParts>,
  input: { tenant_id?: string | undefined; url: string; events: string[]; description?: string | undefined },
) {
  checkUrl(deps.parts, input.url);
  return deps.parts.store.create({
    tenantId: tenantOf(deps.caller, input.tenant_id),
    url: input.url,
    events: input.events,
    description: input.description ?? null,
  });
}

export async function findEndpoint(deps: Deps<EndpointParts>, id: string): Promise<WebhookEndpoint> {
  const endpoint = await deps.parts.store.get(id);
  const tenant = deps.caller.apiKey.tenantId;
  if (!endpoint || (tenant && endpoint.tenantId !== tenant)) throw new Failure("not_found", `no webhook endpoint with id ${id}`);
  return endpoint;
}

export async function listEndpoints(deps: Deps<EndpointParts>, input: { limit: number; cursor?: string | undefined }) {
  const tenant = deps.caller.apiKey.tenantId ?? undefined;
  return keysetPage(deps.parts.cursors, `webhook-endpoints:${tenant ?? ""}`, input.cursor, (after) =>
    deps.parts.store.list({ tenantId: tenant, after, limit: input.limit }),
  );
}

export async function patchEndpoint(deps: Deps<EndpointParts>, id: string, patch: EndpointPatch) {
  await findEndpoint(deps, id);
  if (patch.url !== undefined) checkUrl(deps.parts, patch.url);
  return (await deps.parts.store.update(id, patch))!;
}

export async function removeEndpoint(deps: Deps<EndpointParts>, id: string): Promise<void> {
  await findEndpoint(deps, id);
  await deps.parts.store.remove(id);
  // A delivery queued before the removal sends nothing, rather than sending from this instance's
  // cache and then failing to record the attempt of an endpoint that is gone.
  deps.parts.delivery.forget(id);
}

/** A new secret, shown once; the old one also signs until `previousUntil` (now, for an overlap of 0). */
export async function rotateEndpointSecret(deps: Deps<EndpointParts>, id: string, overlapSeconds: number) {
  await findEndpoint(deps, id);
  const rotated = (await deps.parts.store.rotateSecret(id, overlapSeconds))!;
  // This instance signs with the new secret alone from the next delivery on (others within a second).
  deps.parts.delivery.forget(id);
  return rotated;
}

export async function listDeliveries(deps: Deps<EndpointParts>, id: string, input: { limit: number; cursor?: string | undefined }) {
  await findEndpoint(deps, id);
  return keysetPage(deps.parts.cursors, `deliveries:${id}`, input.cursor, (after) =>
    deps.parts.store.deliveries({ endpointId: id, after, limit: input.limit }),
  );
}

/** Sends a delivery's event to its endpoint again, as a new attempt. */
export async function replayDelivery(deps: Deps<EndpointParts>, endpointId: string, deliveryId: string) {
  await findEndpoint(deps, endpointId);
  const delivery = await deps.parts.store.delivery(deliveryId);
  if (!delivery || delivery.endpointId !== endpointId) throw new Failure("not_found", `no delivery with id ${deliveryId} on this endpoint`);
  await deps.parts.queue.deliver([{ endpointId, eventIds: [delivery.eventId] }]);
}

/** A `webhook_endpoint.test` event, logged and delivered to this endpoint only. */
export async function testEndpoint(deps: Deps<EndpointParts>, id: string) {
  const endpoint = await findEndpoint(deps, id);
  const [event] = await deps.parts.events.emit([
    {
      tenantId: endpoint.tenantId,
      connectionId: null,
      integration: null,
      type: "webhook_endpoint.test",
      version: null,
      data: { endpoint_id: id },
    },
  ]);
  return event!;
}
