import {
  type ApiKeyStore,
  apiKeyStore,
  type ConnectionStore,
  connectionStore,
  type IdempotencyStore,
  idempotencyStore,
  type ChangeListener,
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
  type UpstreamClient,
  type UpstreamClientOptions,
} from "@unifold/engine";
import type { Logger } from "pino";
import { createLimits, type Limits } from "./limits.ts";
import { changeChannelGauge, createMetrics, type Metrics, upstreamObserver, upstreamSlotsGauge } from "./metrics.ts";

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
  /** The API-key limit and the shared pacing, in memory, Postgres or Redis (see limits.ts). */
  limits: Limits;
  /** Hears other instances' writes, on a Postgres server. */
  changes?: ChangeListener | undefined;
  /** Stops listening and closes the limit store; the database is closed by whoever opened it. */
  close(): Promise<void>;
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
  upstream: Omit<UpstreamClientOptions, "observe" | "sharedPacing">;
  apiKeyLimit?: RateRule | undefined;
  /** Where limits are kept when there may be several instances (see limits.ts). */
  redisUrl?: string | undefined;
  sharedLimits?: boolean;
}

/** The one wiring of the gateway's services, for `main.ts` and the test harness alike. */
export function createServices(parts: ServiceParts): Services {
  const metrics = createMetrics();
  const { store } = parts;
  const limits = createLimits({
    store,
    redisUrl: parts.redisUrl,
    shared: parts.sharedLimits ?? true,
    apiKeyRule: parts.apiKeyLimit,
    logger: parts.logger,
  });
  const upstream = createUpstreamClient({ ...parts.upstream, sharedPacing: limits.pacing, observe: upstreamObserver(metrics) });
  upstreamSlotsGauge(metrics, upstream.inFlight);
  const connections = connectionStore(store.db, parts.vault, { cacheTtlMs: parts.cacheTtlMs });
  const apiKeys = apiKeyStore(store.db, { cacheTtlMs: parts.cacheTtlMs });
  // Another instance's revocation, deletion or patch reaches this one's caches at once.
  const changes = store.listenForChanges?.({
    onChange: (change) => {
      connections.forget(change);
      apiKeys.forget(change);
    },
    onGap: () => {
      connections.forget();
      apiKeys.forget();
    },
  });
  if (changes) changeChannelGauge(metrics, () => changes.healthy);
  return {
    store,
    connections,
    apiKeys,
    idempotency: idempotencyStore(store.db, { leaseMs: parts.idempotencyLeaseMs }),
    integrations: parts.integrations,
    upstream,
    cursors: createCursorCodec(parts.ring.current.key),
    logger: parts.logger,
    metrics,
    limits,
    changes,
    async close() {
      await changes?.close();
      await limits.close();
    },
  };
}
