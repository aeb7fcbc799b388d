import type { Delivery, EndpointPatch, EventRow, WebhookEndpoint } from "@unifold/db";
import { Webhook } from "standardwebhooks";
import { Agent, request } from "undici";
import { guardedLookup, hostRefusal } from "@unifold/engine";
import { ApiError } from "../errors.ts";
import type { Services } from "../services.ts";
import { keysetPage, openCursor } from "./cursor.ts";
import { type Deps, tenantOf, tenantScope } from "./deps.ts";

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

/** An endpoint's URL without a user name or password (refused since; an older row may hold them). */
function shownUrl(url: string): string {
  const parsed = URL.parse(url);
  if (!parsed || (!parsed.username && !parsed.password)) return url;
  parsed.username = "";
  parsed.password = "";
  return parsed.toString();
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
  if (refused) throw new ApiError("invalid_request", `url: ${refused}`, { details: [{ path: "url", message: refused }] });
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
  if (!endpoint || (tenant && endpoint.tenantId !== tenant)) throw new ApiError("not_found", `no webhook endpoint with id ${id}`);
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
  endpointCaches.get(deps.services)?.delete(id);
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
  if (!delivery || delivery.endpointId !== endpointId)
    throw new ApiError("not_found", `no delivery with id ${deliveryId} on this endpoint`);
  await deps.services.queue.deliver([{ eventId: delivery.eventId, endpointId }]);
}

/** A `webhook_endpoint.test` event, logged and delivered to this endpoint only. */
export async function testEndpoint(deps: Deps, id: string) {
  const endpoint = await findEndpoint(deps, id);
  const [event] = await deps.services.events.append(deps.services.store.db, [
    {
      tenantId: endpoint.tenantId,
      connectionId: null,
      integration: null,
      type: "webhook_endpoint.test",
      version: null,
      data: { endpoint_id: id },
    },
  ]);
  await dispatchEvents(deps.services);
  return event!;
}

/**
 * Queues the deliveries of every event not yet dispatched (an outbox): each to the tenant's
 * enabled endpoints that take its type. A test event goes to its own endpoint only; a
 * `webhook_endpoint.disabled` to every endpoint but the disabled one.
 */
export function dispatchEvents(services: Services): Promise<number> {
  // One dispatch at a time in this process; other instances are kept apart by row locks.
  const previous = dispatching.get(services) ?? Promise.resolve(0);
  const next = previous.catch(() => 0).then(() => dispatchNow(services));
  dispatching.set(services, next);
  return next;
}
const dispatching = new WeakMap<Services, Promise<number>>();

async function dispatchNow(services: Services): Promise<number> {
  return services.events.dispatch(
    async (rows) => {
      const subscribers = new Map<string, Promise<string[]>>();
      const jobs: { eventId: string; endpointId: string }[] = [];
      for (const event of rows) {
        const key = `${event.tenantId}\u0000${event.type}`;
        if (!subscribers.has(key)) {
          subscribers.set(
            key,
            services.webhooks.subscribers(event.tenantId, event.type).then((list) => list.map((e) => e.id)),
          );
        }
        let endpoints = await subscribers.get(key)!;
        if (event.type === "webhook_endpoint.test") endpoints = [String(event.data.endpoint_id)];
        if (event.type === "webhook_endpoint.disabled") endpoints = endpoints.filter((id) => id !== event.data.endpoint_id);
        for (const endpointId of endpoints) jobs.push({ eventId: event.id, endpointId });
      }
      await services.queue.deliver(jobs);
    },
    { lock: services.store.kind === "postgres" },
  );
}

const webhookAgents = new WeakMap<Services, Agent>();
const agentOf = (services: Services) => {
  let agent = webhookAgents.get(services);
  if (!agent) {
    agent = new Agent({
      connect: { timeout: 5_000, lookup: guardedLookup(services.webhookNetwork) },
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    webhookAgents.set(services, agent);
  }
  return agent;
};

/** Thrown to have the queue retry a delivery later (a timeout, or a status other than 2xx and 410). */
export class DeliveryFailed extends Error {}

/**
 * An endpoint and its signing secrets, read once a second at most per endpoint: a burst of
 * deliveries does not read and decrypt them for every event. A change (a new secret, disabling)
 * applies within that second.
 */
const endpointCaches = new WeakMap<
  Services,
  Map<string, { until: number; value: Promise<{ endpoint: WebhookEndpoint; secrets: string[] } | undefined> }>
>();
function endpointForDelivery(services: Services, id: string) {
  let cache = endpointCaches.get(services);
  if (!cache) endpointCaches.set(services, (cache = new Map()));
  const hit = cache.get(id);
  if (hit && hit.until > Date.now()) return hit.value;
  const value = services.webhooks
    .get(id)
    .then(async (endpoint) => (endpoint ? { endpoint, secrets: await services.webhooks.signingSecrets(id) } : undefined));
  cache.set(id, { until: Date.now() + 1_000, value });
  if (cache.size > 10_000) cache.delete(cache.keys().next().value as string);
  return value;
}

export async function deliverEvent(services: Services, job: { eventId: string; endpointId: string; attempt: number }): Promise<void> {
  const [found, event] = await Promise.all([endpointForDelivery(services, job.endpointId), services.events.get(job.eventId)]);
  if (!found || !event || !found.endpoint.enabled) return; // deleted or disabled meanwhile: nothing to send
  const { endpoint, secrets } = found;
  const body = JSON.stringify(presentEvent(event));
  const timestamp = new Date();
  const signature = secrets.map((secret) => new Webhook(secret).sign(event.id, timestamp, body)).join(" ");
  const started = performance.now();
  let status: number | null = null;
  let error: string | null = null;
  try {
    // The policy may have changed since the endpoint was registered.
    if (hostRefusal(services.webhookNetwork, new URL(endpoint.url).hostname)) throw new DestinationRefused();
    const answer = await request(endpoint.url, {
      method: "POST",
      dispatcher: agentOf(services),
      headers: {
        "content-type": "application/json",
        "user-agent": "unifold-webhooks",
        "webhook-id": event.id,
        "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
        "webhook-signature": signature,
      },
      body,
    });
    status = answer.statusCode;
    await answer.body.dump();
  } catch (failure) {
    error = deliveryError(failure);
  }
  const latencyMs = Math.round(performance.now() - started);
  const outcome = status !== null && status >= 200 && status < 300 ? "delivered" : status === 410 ? "gone" : "failed";
  await services.webhooks.recordDelivery({
    endpointId: endpoint.id,
    eventId: event.id,
    attempt: job.attempt,
    outcome,
    responseStatus: status,
    latencyMs,
    error,
  });
  services.metrics.deliveries.inc({ outcome });
  services.metrics.deliverySeconds.observe(latencyMs / 1000);
  if (outcome === "delivered") return;
  if (outcome === "gone") return void (await disableEndpoint(services, endpoint, "the endpoint answered 410 Gone"));
  const failing = (await services.webhooks.get(endpoint.id))?.failingSince;
  if (failing && Date.now() - failing.getTime() > services.webhookDisableAfterMs) {
    return void (await disableEndpoint(
      services,
      endpoint,
      `every delivery failed for more than ${Math.round(services.webhookDisableAfterMs / 3_600_000)} h`,
    ));
  }
  throw new DeliveryFailed(`delivery to ${endpoint.url} failed: ${error ?? `status ${status}`}`);
}

class DestinationRefused extends Error {}

const networkErrors: Record<string, string> = {
  ECONNREFUSED: "the connection was refused",
  ECONNRESET: "the connection was reset",
  ENOTFOUND: "the host name was not found",
  EAI_AGAIN: "the host name could not be resolved",
  ETIMEDOUT: "the connection timed out",
  EHOSTUNREACH: "the host is unreachable",
  ENETUNREACH: "the network is unreachable",
  UND_ERR_CONNECT_TIMEOUT: "the connection timed out",
  UND_ERR_HEADERS_TIMEOUT: "no answer in time",
  UND_ERR_BODY_TIMEOUT: "the answer's body did not arrive in time",
  UND_ERR_SOCKET: "the connection failed",
};

/**
 * A failed attempt as a tenant may read it in its deliveries: what went wrong, never an address.
 * A name that resolves inside the network is "destination not allowed", whatever it resolved to.
 */
function deliveryError(failure: unknown): string {
  const codes: unknown[] = [];
  for (let e: unknown = failure; e && typeof e === "object" && codes.length < 5; e = (e as { cause?: unknown }).cause) {
    if (e instanceof DestinationRefused) return "destination not allowed";
    codes.push((e as { code?: unknown }).code);
  }
  if (codes.includes("EUNIFOLD_BLOCKED")) return "destination not allowed";
  const known = codes.find((code): code is string => typeof code === "string" && code in networkErrors);
  return known ? networkErrors[known]! : "the request failed";
}

/** Disables an endpoint and tells the tenant's other endpoints. */
async function disableEndpoint(services: Services, endpoint: WebhookEndpoint, reason: string) {
  if (!(await services.webhooks.disable(endpoint.id, reason))) return;
  services.metrics.endpointsDisabled.inc();
  await services.events.append(services.store.db, [
    {
      tenantId: endpoint.tenantId,
      connectionId: null,
      integration: null,
      type: "webhook_endpoint.disabled",
      version: null,
      data: { endpoint_id: endpoint.id, url: shownUrl(endpoint.url), reason },
    },
  ]);
  await dispatchEvents(services);
}

/** The event log: a tenant's events after a cursor, oldest first. */
export async function listEvents(
  deps: Deps,
  input: {
    after?: string | undefined;
    types?: string[] | undefined;
    connection_id?: string | undefined;
    tenant_id?: string | undefined;
    limit: number;
  },
) {
  const tenant = tenantScope(deps, input.tenant_id);
  const binding = `events:${tenant ?? ""}`;
  let afterSeq: number | undefined;
  if (input.after !== undefined) {
    const state = (await openCursor(deps.services.cursors, binding, input.after)) as { s?: unknown } | undefined;
    if (typeof state?.s !== "number") throw new ApiError("invalid_cursor", "the cursor does not belong to this event log");
    afterSeq = state.s;
  }
  const page = await deps.services.events.list({
    tenantId: tenant,
    afterSeq,
    types: input.types,
    connectionId: input.connection_id,
    limit: input.limit,
  });
  const last = page.rows.at(-1)?.seq ?? afterSeq ?? 0;
  // The cursor always moves to the last event returned, so a caller polls from it for what comes later.
  return { rows: page.rows, next_cursor: await deps.services.cursors.seal(binding, { s: last }), has_more: page.more };
}
