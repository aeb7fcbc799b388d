import type { WebhookEndpoint, WebhookStore } from "@unifold/db";
import { guardedLookup, hostRefusal, type NetworkPolicy } from "@unifold/engine";
import { Webhook } from "standardwebhooks";
import { Agent, request } from "undici";
import type { Metrics } from "../../metrics.ts";
import { type Events, presentEvent } from "../events/index.ts";
import { shownUrl } from "./url.ts";

/** Thrown to have the queue retry a delivery later (a timeout, or a status other than 2xx and 410). */
export class DeliveryFailed extends Error {}

export interface WebhookDelivery {
  /** Sends one event to one endpoint, records the attempt, and throws DeliveryFailed to be retried. */
  deliver(job: { eventId: string; endpointId: string; attempt: number }): Promise<void>;
  /** Drops what this instance holds of an endpoint (a new secret signs from the next delivery on). */
  forget(endpointId: string): void;
  close(): Promise<void>;
}

export interface DeliveryParts {
  webhooks: WebhookStore;
  events: Pick<Events, "get" | "emit">;
  metrics: Pick<Metrics, "deliveries" | "deliverySeconds" | "endpointsDisabled">;
  /** Where deliveries may go: the SSRF policy, checked at connect time and again per delivery. */
  network: NetworkPolicy;
  /** An endpoint every delivery to which failed for this long is disabled. */
  disableAfterMs: number;
}

/** Webhook deliveries: its own HTTP agent and its own short cache of endpoints and secrets. */
export function createWebhookDelivery(parts: DeliveryParts): WebhookDelivery {
  const { webhooks, events, metrics, network, disableAfterMs } = parts;
  const agent = new Agent({
    connect: { timeout: 5_000, lookup: guardedLookup(network) },
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });

  /**
   * An endpoint and its signing secrets, read once a second at most per endpoint: a burst of
   * deliveries does not read and decrypt them for every event. A change (a new secret, disabling)
   * applies within that second.
   */
  const cache = new Map<string, { until: number; value: Promise<{ endpoint: WebhookEndpoint; secrets: string[] } | undefined> }>();
  const endpointOf = (id: string) => {
    const hit = cache.get(id);
    if (hit && hit.until > Date.now()) return hit.value;
    const value = webhooks
      .get(id)
      .then(async (endpoint) => (endpoint ? { endpoint, secrets: await webhooks.signingSecrets(id) } : undefined));
    // Stryker disable next-line ObjectLiteral,ArithmeticOperator: an entry that expires at once only makes every delivery read the endpoint afresh, which sends the same
    cache.set(id, { until: Date.now() + 1_000, value });
    // Stryker disable next-line ConditionalExpression,EqualityOperator: evicting an entry early, or never, only changes how often an endpoint is read
    if (cache.size > 10_000) cache.delete(cache.keys().next().value as string);
    return value;
  };

  /** Disables an endpoint and tells the tenant's other endpoints. */
  async function disable(endpoint: WebhookEndpoint, reason: string) {
    if (!(await webhooks.disable(endpoint.id, reason))) return;
    metrics.endpointsDisabled.inc();
    await events.emit([
      {
        tenantId: endpoint.tenantId,
        connectionId: null,
        integration: null,
        type: "webhook_endpoint.disabled",
        version: null,
        data: { endpoint_id: endpoint.id, url: shownUrl(endpoint.url), reason },
      },
    ]);
  }

  return {
    async deliver(job) {
      const [found, event] = await Promise.all([endpointOf(job.endpointId), events.get(job.eventId)]);
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
        if (hostRefusal(network, new URL(endpoint.url).hostname)) throw new DestinationRefused();
        const answer = await request(endpoint.url, {
          method: "POST",
          dispatcher: agent,
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
      await webhooks.recordDelivery({
        endpointId: endpoint.id,
        eventId: event.id,
        attempt: job.attempt,
        outcome,
        responseStatus: status,
        latencyMs,
        error,
      });
      metrics.deliveries.inc({ outcome });
      metrics.deliverySeconds.observe(latencyMs / 1000);
      if (outcome === "delivered") return;
      if (outcome === "gone") return void (await disable(endpoint, "the endpoint answered 410 Gone"));
      const failing = (await webhooks.get(endpoint.id))?.failingSince;
      if (failing && Date.now() - failing.getTime() > disableAfterMs) {
        return void (await disable(endpoint, `every delivery failed for more than ${Math.round(disableAfterMs / 3_600_000)} h`));
      }
      throw new DeliveryFailed(`delivery to ${endpoint.url} failed: ${error ?? `status ${status}`}`);
    },
    forget: (endpointId) => void cache.delete(endpointId),
    close: () => agent.close(),
  };
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
export function deliveryError(failure: unknown): string {
  const codes: unknown[] = [];
  for (let e: unknown = failure; e && typeof e === "object" && codes.length < 5; e = (e as { cause?: unknown }).cause) {
    if (e instanceof DestinationRefused) return "destination not allowed";
    codes.push((e as { code?: unknown }).code);
  }
  if (codes.includes("EUNIFOLD_BLOCKED")) return "destination not allowed";
  const known = codes.find((code): code is string => typeof code === "string" && code in networkErrors);
  return known ? networkErrors[known]! : "the request failed";
}
