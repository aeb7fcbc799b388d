import {
  type ApiKeyStore,
  apiKeyStore,
  type ConnectionStore,
  connectionStore,
  type IdempotencyStore,
  idempotencyStore,
  type KeyRing,
  type Store,
  type Vault,
} from "@unifold/db";
import {
  type CursorCodec,
  createCursorCodec,
  createUpstreamClient,
  type Integration,
  type RateRule,
  tokenBuckets,
  type UpstreamClient,
  type UpstreamClientOptions,
} from "@unifold/engine";
import type { Logger } from "pino";
import { createMetrics, type Metrics, upstreamObserver, upstreamSlotsGauge } from "./metrics.ts";

/** Everything the domain and the routes may use; tests build it with a real database and loopback upstreams. */
export interface Services {
  store: Store;
  connections: ConnectionStore;
  apiKeys: ApiKeyStore;
  idempotency: IdempotencyStore;
  integrations: ReadonlyMap<string, Integration>;
  upstream: UpstreamClient;
  cursors: CursorCodec;
  logger: Logger;
  metrics: Metrics;
  /** Requests each API key may make on the gateway, when limited. */
  apiKeyLimit?: { rule: RateRule; buckets: ReturnType<typeof tokenBuckets> } | undefined;
}

export interface ServiceParts {
  store: Store;
  ring: KeyRing;
  vault: Vault;
  integrations: ReadonlyMap<string, Integration>;
  logger: Logger;
  /** How long a connection or API key read stays cached on this instance. */
  cacheTtlMs: number;
  /** How long an unfinished Idempotency-Key claim holds before another request may take it over. */
  idempotencyLeaseMs: number;
  upstream: Omit<UpstreamClientOptions, "observe">;
  apiKeyLimit?: RateRule | undefined;
}

/** The one wiring of the gateway's services, for `main.ts` and the test harness alike. */
export function createServices(parts: ServiceParts): Services {
  const metrics = createMetrics();
  const { store } = parts;
  const upstream = createUpstreamClient({ ...parts.upstream, observe: upstreamObserver(metrics) });
  upstreamSlotsGauge(metrics, upstream.inFlight);
  return {
    store,
    connections: connectionStore(store.db, parts.vault, { cacheTtlMs: parts.cacheTtlMs }),
    apiKeys: apiKeyStore(store.db, { cacheTtlMs: parts.cacheTtlMs }),
    idempotency: idempotencyStore(store.db, { leaseMs: parts.idempotencyLeaseMs }),
    integrations: parts.integrations,
    upstream,
    cursors: createCursorCodec(parts.ring.current.key),
    logger: parts.logger,
    metrics,
    apiKeyLimit: parts.apiKeyLimit && { rule: parts.apiKeyLimit, buckets: tokenBuckets() },
  };
}
