import type { WebhookStore } from "@unifold/db";
import type { CursorCodec, NetworkPolicy } from "@unifold/engine";
import type { JobQueue } from "../../jobs/queue.ts";
import type { Events } from "../events/index.ts";
import type { DeliveryParts, WebhookDelivery } from "./delivery.ts";

/** What the webhooks module is built from. */
export interface WebhooksParts {
  store: WebhookStore;
  cursors: CursorCodec;
  /** Where endpoints may be: the SSRF policy, checked when one is saved and again per delivery. */
  network: NetworkPolicy;
  queue: Pick<JobQueue, "deliver">;
  events: Pick<Events, "getMany" | "emit">;
  metrics: DeliveryParts["metrics"];
  /** An endpoint every delivery to which failed for this long is disabled. */
  disableAfterMs: number;
}

/** The endpoint functions' parts: the module's, and the delivery it owns. */
export interface EndpointParts extends WebhooksParts {
  delivery: WebhookDelivery;
}
