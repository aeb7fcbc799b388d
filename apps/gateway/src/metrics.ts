import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Prometheus metrics, in a registry of the app's own (tests run several apps in one process). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "unifold_" });
  const seconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
  return {
    registry,
    requests: new Counter({
      name: "unifold_http_requests_total",
      help: "Requests answered, by route pattern and status",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    requestSeconds: new Histogram({
      name: "unifold_http_request_duration_seconds",
      help: "Time to answer a request, by route pattern",
      labelNames: ["method", "route"],
      buckets: seconds,
      registers: [registry],
    }),
    upstreamCalls: new Counter({
      name: "unifold_upstream_requests_total",
      help: "Upstream call attempts, by integration and upstream status (or error)",
      labelNames: ["integration", "status"],
      registers: [registry],
    }),
    upstreamSeconds: new Histogram({
      name: "unifold_upstream_request_duration_seconds",
      help: "Upstream call attempt latency, by integration",
      labelNames: ["integration"],
      buckets: seconds,
      registers: [registry],
    }),
    retries: new Counter({
      name: "unifold_upstream_retries_total",
      help: "Upstream calls sent again after a transient failure, by integration",
      labelNames: ["integration"],
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: "unifold_rate_limited_total",
      help: "429s the gateway answered, by cause: upstream (the vendor said so), connection (pacing), api_key",
      labelNames: ["cause"],
      registers: [registry],
    }),
    limitStoreUnavailable: new Counter({
      name: "unifold_limit_store_unavailable_total",
      help: "Upstream calls not sent (503) because the shared limit store (Redis or Postgres) did not answer",
      registers: [registry],
    }),
    syncRuns: new Counter({
      name: "unifold_sync_runs_total",
      help: "Sync runs finished, by status",
      labelNames: ["status"],
      registers: [registry],
    }),
    recordsSeen: new Counter({ name: "unifold_sync_records_seen_total", help: "Records read by sync runs", registers: [registry] }),
    eventsMade: new Counter({ name: "unifold_events_total", help: "Events written to the event log", registers: [registry] }),
    deliveries: new Counter({
      name: "unifold_webhook_deliveries_total",
      help: "Webhook delivery attempts, by outcome (delivered, failed, gone)",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    deliverySeconds: new Histogram({
      name: "unifold_webhook_delivery_duration_seconds",
      help: "Time for a receiver to answer a delivery",
      buckets: seconds,
      registers: [registry],
    }),
    endpointsDisabled: new Counter({
      name: "unifold_webhook_endpoints_disabled_total",
      help: "Endpoints the gateway disabled (410, or failing too long)",
      registers: [registry],
    }),
    offModelValues: new Counter({
      name: "unifold_off_model_values_total",
      help: "Mapped values the unified model refused and answered as null, by integration, resource and field",
      labelNames: ["integration", "resource", "field"],
      registers: [registry],
    }),
    mappingSeconds: new Histogram({
      name: "unifold_mapping_duration_seconds",
      help: "Time spent mapping one page or record into the unified model, by integration",
      labelNames: ["integration"],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Upstream calls in flight and waiting, read when scraped: 0 once traffic stops, or a slot leaked. */
export function upstreamSlotsGauge(metrics: Metrics, inFlight: () => { active: number; waiting: number }) {
  new Gauge({
    name: "unifold_upstream_calls_in_flight",
    help: "Upstream calls holding (active) or waiting for (waiting) a per-connection slot",
    labelNames: ["state"],
    registers: [metrics.registry],
    collect() {
      const { active, waiting } = inFlight();
      this.set({ state: "active" }, active);
      this.set({ state: "waiting" }, waiting);
    },
  });
}

/** The upstream client's per-attempt hook: counts, latency and retries by integration. */
export function upstreamObserver(metrics: Metrics) {
  return ({ integration, status, seconds, retry }: { integration: string; status: number | "error"; seconds: number; retry: boolean }) => {
    metrics.upstreamCalls.inc({ integration, status: String(status) });
    metrics.upstreamSeconds.observe({ integration }, seconds);
    if (retry) metrics.retries.inc({ integration });
  };
}

/** Whether this instance hears other instances' changes (1), or relies on its cache TTL (0); absent on the embedded database. */
export function changeChannelGauge(metrics: Metrics, healthy: () => boolean) {
  new Gauge({
    name: "unifold_change_channel_up",
    help: "1 while the Postgres change channel answers its heartbeat; 0 while caches rely on their TTL",
    registers: [metrics.registry],
    collect() {
      this.set(healthy() ? 1 : 0);
    },
  });
}
