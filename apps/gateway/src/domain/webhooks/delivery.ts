import { createHmac } from "node:crypto";
import type { EventRow, WebhookEndpoint, WebhookStore } from "@unifold/db";
import { guardedLookup, hostRefusal, type NetworkPolicy } from "@unifold/engine";
import { Agent, request } from "undici";
import type { Metrics } from "../../metrics.ts";
import { type Events, presentEvent } from "../events/index.ts";
import { shownUrl } from "./url.ts";

/** Thrown to have the queue retry a delivery later (a timeout, or a status other than 2xx and 410). */
export class DeliveryFailed extends Error {}

export interface DeliveryAttempt {
  eventId: string;
  endpointId: string;
  attempt: number;
}

export interface WebhookDelivery {
  /** Sends one event to one endpoint, records the attempt, and throws DeliveryFailed to be retried. */
  deliver(job: DeliveryAttempt): Promise<void>;
  /**
   * Sends a batch of attempts (the events of the deliver jobs one fetch handed out), records
   * every attempt, and answers, per attempt in the batch's order, the DeliveryFailed that has it
   * retried, or undefined.
   */
  deliverAll(jobs: DeliveryAttempt[]): Promise<(DeliveryFailed | undefined)[]>;
  /** Drops what this instance holds of an endpoint (a new secret signs from the next delivery on). */
  forget(endpointId: string): void;
  close(): Promise<void>;
}

export interface DeliveryParts {
  webhooks: WebhookStore;
  events: Pick<Events, "getMany" | "emit">;
  metrics: Pick<Metrics, "deliveries" | "deliverySeconds" | "endpointsDisabled">;
  /** Where deliveries may go: the SSRF policy, checked at connect time and again per delivery. */
  network: NetworkPolicy;
  /** An endpoint every delivery to which failed for this long is disabled. */
  disableAfterMs: number;
}

/**
 * The record an event is about (a user, a group, a membership), or undefined for an event about
 * no one record (sync.completed, connection.*, webhook_endpoint.*).
 */
export function recordOf(event: EventRow): string | undefined {
  const noun = event.type.slice(0, event.type.indexOf("."));
  const id = noun === "group_member" ? `${String(event.data.group_id)}/${String(event.data.user_id)}` : event.data.id;
  return typeof id === "string" ? `${event.connectionId}/${noun}/${id}` : undefined;
}

/**
 * Webhook deliveries: its own HTTP agent and its own short cache of endpoints and secrets.
 *
 * Throughput to one endpoint comes from a batch of jobs in flight at once, keeping each record's
 * order: the batch's events are read in one query and sent in event order per record (a record's
 * next event leaves once its previous attempt has ended), different records side by side, and an
 * event about no one record (sync.completed, say) after every earlier event of the batch. The
 * attempts are recorded in one statement. Batches are worked one after the other, and the queue
 * hands jobs out in event order (see jobs/queue.ts), so on one instance a record's events are
 * never in flight together. A retried attempt can arrive after a later event of its record:
 * `version` tells the receiver which is newer. The agent keeps connections alive, so a burst
 * reuses a pool of sockets (100 per endpoint at most) instead of opening one per event. A batch
 * is the events of a few deliver jobs, each up to EVENTS_PER_JOB events to one endpoint
 * (domain/events/emitter.ts, jobs/workers.ts).
 */
export function createWebhookDelivery(parts: DeliveryParts): WebhookDelivery {
  const { webhooks, events, metrics, network, disableAfterMs } = parts;
  const agent = new Agent({
    connect: { timeout: 5_000, lookup: guardedLookup(network) },
    // Sockets kept alive and reused, at most this many per endpoint: the rest of a batch waits its turn.
    connections: 100,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });

  /**
   * An endpoint and its signers, read once a second at most per endpoint: a burst of deliveries
   * does not read and decrypt them for every event. A change (a new secret, disabling) applies
   * within that second.
   */
  const cache = new Map<string, { until: number; value: Promise<{ endpoint: WebhookEndpoint; keys: Buffer[] } | undefined> }>();
  const endpointOf = (id: string) => {
    const hit = cache.get(id);
    if (hit && hit.until > Date.now()) return hit.value;
    const value = webhooks
      .get(id)
      .then(async (endpoint) => (endpoint ? { endpoint, keys: (await webhooks.signingSecrets(id)).map(signingKey) } : undefined));
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

  type Sent = { endpoint: WebhookEndpoint; row: Parameters<WebhookStore["recordDeliveries"]>[0][number] };

  /** One attempt: the signed POST and what came of it, or undefined when there is nothing to send. */
  async function send(job: DeliveryAttempt, event: EventRow): Promise<Sent | undefined> {
    const found = await endpointOf(job.endpointId);
    if (!found || !found.endpoint.enabled) return undefined; // deleted or disabled meanwhile: nothing to send
    const { endpoint, keys } = found;
    const body = JSON.stringify(presentEvent(event));
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = keys.map((key) => sign(key, event.id, timestamp, body)).join(" ");
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
          "webhook-timestamp": timestamp,
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
    metrics.deliveries.inc({ outcome });
    metrics.deliverySeconds.observe(latencyMs / 1000);
    const row = { endpointId: endpoint.id, eventId: event.id, attempt: job.attempt, outcome, responseStatus: status, latencyMs, error };
    return { endpoint, row } as Sent;
  }

  /** After the attempt is recorded: 410 disables, a failure is thrown back to be retried unless the endpoint has failed too long. */
  async function settle(sent: Sent | undefined): Promise<DeliveryFailed | undefined> {
    if (!sent || sent.row.outcome === "delivered") return undefined;
    const { endpoint, row } = sent;
    if (row.outcome === "gone") return void (await disable(endpoint, "the endpoint answered 410 Gone"));
    const failing = (await webhooks.get(endpoint.id))?.failingSince;
    if (failing && Date.now() - failing.getTime() > disableAfterMs) {
      return void (await disable(endpoint, `every delivery failed for more than ${Math.round(disableAfterMs / 3_600_000)} h`));
    }
    return new DeliveryFailed(`delivery to ${endpoint.url} failed: ${row.error ?? `status ${row.responseStatus}`}`);
  }

  async function deliverAll(jobs: DeliveryAttempt[]): Promise<(DeliveryFailed | undefined)[]> {
    const found = new Map((await events.getMany(jobs.map((job) => job.eventId))).map((event) => [event.id, event]));
    // In event order (the queue's own order is not the events'), each send after the previous
    // one of its record; one about no record after every earlier send. A job whose event is
    // gone (pruned, erased) sends nothing.
    const inOrder = jobs.filter((job) => found.has(job.eventId));
    inOrder.sort((a, b) => found.get(a.eventId)!.seq - found.get(b.eventId)!.seq);
    const last = new Map<string, Promise<unknown>>();
    const sending = new Map<DeliveryAttempt, Promise<Sent | undefined>>();
    for (const job of inOrder) {
      const event = found.get(job.eventId)!;
      const record = recordOf(event);
      const after = record === undefined ? Promise.all(sending.values()) : last.get(`${job.endpointId}/${record}`);
      const sent = Promise.resolve(after).then(() => send(job, event));
      // Stryker disable next-line ConditionalExpression: an event about no record, kept as "the last of record undefined", is waited for by none but another such, which waits for every earlier send anyway
      if (record !== undefined) last.set(`${job.endpointId}/${record}`, sent);
      sending.set(job, sent);
    }
    const sent = await Promise.all(jobs.map((job) => sending.get(job)));
    await webhooks.recordDeliveries(sent.flatMap((s) => (s ? [s.row] : [])));
    return Promise.all(sent.map(settle));
  }

  return {
    async deliver(job) {
      const [failed] = await deliverAll([job]);
      if (failed) throw failed;
    },
    deliverAll,
    forget: (endpointId) => void cache.delete(endpointId),
    close: () => agent.close(),
  };
}

/** A `whsec_` secret's key: the base64 after the prefix, as Standard Webhooks reads it. */
function signingKey(secret: string): Buffer {
  return Buffer.from(secret.slice("whsec_".length), "base64");
}

/**
 * A Standard Webhooks `v1` signature: HMAC-SHA256 of `id.timestamp.body`, in base64. Node's own
 * HMAC, not the standardwebhooks package's JavaScript SHA-256, which takes five times as long per
 * event; a receiver verifies it with that package (webhooks.delivery.test.ts does).
 */
function sign(key: Buffer, id: string, timestamp: string, body: string): string {
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
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
