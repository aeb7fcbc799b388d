import { withCaller } from "../caller.ts";
import { createWebhookDelivery } from "./delivery.ts";
import {
  createEndpoint,
  findEndpoint,
  listDeliveries,
  listEndpoints,
  patchEndpoint,
  removeEndpoint,
  replayDelivery,
  rotateEndpointSecret,
  testEndpoint,
} from "./endpoints.ts";
import type { WebhooksParts } from "./parts.ts";

export { presentDelivery, presentEndpoint } from "./endpoints.ts";
export type { WebhooksParts };

/** Webhooks: endpoints a tenant registers, and the delivery of events to them (its own agent and cache). */
export type Webhooks = ReturnType<typeof createWebhooks>;

export function createWebhooks(parts: WebhooksParts) {
  const delivery = createWebhookDelivery({ ...parts, webhooks: parts.store });
  const endpoints = withCaller(
    { ...parts, delivery },
    {
      create: createEndpoint,
      find: findEndpoint,
      list: listEndpoints,
      patch: patchEndpoint,
      remove: removeEndpoint,
      rotateSecret: rotateEndpointSecret,
      deliveries: listDeliveries,
      replay: replayDelivery,
      test: testEndpoint,
    },
  );
  return {
    ...endpoints,
    /** Sends one event to one endpoint; throws DeliveryFailed to be retried. */
    deliver: delivery.deliver,
    /** Sends a batch of the deliver job (see delivery.ts); answers each job's DeliveryFailed, if any. */
    deliverAll: delivery.deliverAll,
    close: delivery.close,
  };
}
