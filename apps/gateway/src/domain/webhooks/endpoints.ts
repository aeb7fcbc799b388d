import type { Delivery, EndpointPatch, WebhookEndpoint } from "@unifold/db";
import { hostRefusal } from "@unifold/engine";
import { Failure } from "../failure.ts";
import type { Services } from "../../services.ts";
import { keysetPage } from "../cursor.ts";
import { type Deps, tenantOf } from "../deps.ts";
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
function checkUrl(services: Services, url: string) {
  const parsed = new URL(url);
  const refused =
    parsed.protocol !== "http:" && parsed.protocol !== "https:"
      ? "must be http or https"
      : parsed.username || parsed.password
        ? "must not carry a user name or password; authenticate deliveries by their signature"
        : hostRefusal(services.webhookNetwork, parsed.hostname);
  if (refused) throw new Failure("invalid_request", `url: ${refused}`, { details: [{ path: "url", message: refused }] });
}

export async function createEndpoint(
  deps: Deps,
  input: { tenant_id?: string | undefined; url: string; events: string[]; description?: string | undefined },
) {
  checkUrl(deps.services, input.url);
  return deps.services.webhooks.create({
    tenantId: tenantOf(deps, input.tenant_id),
    url: input.url,
    events: input.events,
    description: input.description ?? null,
  });
}

export async function findEndpoint(deps: Deps, id: string): Promise<WebhookEndpoint> {
  const endpoint = await deps.services.webhooks.get(id);
  const tenant = deps.caller.apiKey.tenantId;
  if (!endpoint || (tenant && endpoint.tenantId !== tenant)) throw new Failure("not_found", `no webhook endpoint with id ${id}`);
  return endpoint;
}

export async function listEndpoints(deps: Deps, input: { limit: number; cursor?: string | undefined }) {
  const tenant = deps.caller.apiKey.tenantId ?? undefined;
  return keysetPage(deps.services.cursors, `webhook-endpoints:${tenant ?? ""}`, input.cursor, (after) =>
    deps.services.webhooks.list({ tenantId: tenant, after, limit: input.limit }),
  );
}

export async function patchEndpoint(deps: Deps, id: string, patch: EndpointPatch) {
  await findEndpoint(deps, id);
  if (patch.url !== undefined) checkUrl(deps.services, patch.url);
  return (await deps.services.webhooks.update(id, patch))!;
}

export async function removeEndpoint(deps: Deps, id: string): Promise<void> {
  await findEndpoint(deps, id);
  await deps.services.webhooks.remove(id);
}

/** A new secret, shown once; the old one also signs until `previousUntil` (now, for an overlap of 0). */
export async function rotateEndpointSecret(deps: Deps, id: string, overlapSeconds: number) {
  await findEndpoint(deps, id);
  const rotated = (await deps.services.webhooks.rotateSecret(id, overlapSeconds))!;
  // This instance signs with the new secret alone from the next delivery on (others within a second).
  deps.services.webhookDelivery.forget(id);
  return rotated;
}

export async function listDeliveries(deps: Deps, id: string, input: { limit: number; cursor?: string | undefined }) {
  await findEndpoint(deps, id);
  return keysetPage(deps.services.cursors, `deliveries:${id}`, input.cursor, (after) =>
    deps.services.webhooks.deliveries({ endpointId: id, after, limit: input.limit }),
  );
}

/** Sends a delivery's event to its endpoint again, as a new attempt. */
export async function replayDelivery(deps: Deps, endpointId: string, deliveryId: string) {
  await findEndpoint(deps, endpointId);
  const delivery = await deps.services.webhooks.delivery(deliveryId);
  if (!delivery || delivery.endpointId !== endpointId) throw new Failure("not_found", `no delivery with id ${deliveryId} on this endpoint`);
  await deps.services.queue.deliver([{ eventId: delivery.eventId, endpointId }]);
}

/** A `webhook_endpoint.test` event, logged and delivered to this endpoint only. */
export async function testEndpoint(deps: Deps, id: string) {
  const endpoint = await findEndpoint(deps, id);
  const [event] = await deps.services.events.emit([
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
