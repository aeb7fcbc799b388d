import {
  type ApiKeyStore,
  apiKeyStore,
  type ConnectionStore,
  connectionStore,
  type ConnectSessionStore,
  connectSessionStore,
  type IdempotencyStore,
  idempotencyStore,
  type ChangeListener,
  type EventStore,
  eventStore,
  type SyncStore,
  syncStore,
  type WebhookStore,
  webhookStore,
  type KeyRing,
  type Store,
  type Vault,
} from "@unifold/db";
import {
  type CursorCodec,
  createCursorCodec,
  createUpstreamClient,
  type Integration,
  type NetworkPolicy,
  type RateRule,
  type UpstreamClient,
  type UpstreamClientOptions,
} from "@unifold/engine";
import type { Logger } from "pino";
import { loggable } from "./logger.ts";
import { createLimits, type Limits } from "./limits.ts";
import { createQueue, defaultQueueOptions, type JobQueue, type QueueOptions } from "./jobs/queue.ts";
import { changeChannelGauge, createMetrics, type Metrics, upstreamObserver, upstreamSlotsGauge } from "./metrics.ts";
import { createEventEmitter, type EventEmitter } from "./domain/events/emitter.ts";
import { createWebhookDelivery, type WebhookDelivery } from "./domain/webhooks/delivery.ts";

/** The events module: its emitter and the event log's reads. */
export type Events = EventEmitter & Pick<EventStore, "get" | "list" | "prune">;

/** The hosted connect page's limits (README "Let customers connect"). */
export interface ConnectSettings {
  /** How long a link stays open unless the session asks otherwise. */
  ttlSeconds: number;
  /** Submissions the vendor is asked to check before the link closes. */
  maxAttempts: number;
  /** Where customers' browsers reach the gateway (UNIFOLD_PUBLIC_URL); links are built from it. */
  publicUrl?: string | undefined;
  /**
   * UNIFOLD_TRUST_PROXY: the gateway is reached only through a proxy that sets X-Forwarded-*,
   * so links without a public URL, and each client's address, come from those headers.
   */
  trustProxy: boolean;
}

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
  syncs: SyncStore;
  webhooks: WebhookStore;
  /** The one way events are written (and their deliveries queued), and the event log's reads. */
  events: Events;
  /** Sends webhook deliveries: its own HTTP agent and endpoint cache. */
  webhookDelivery: WebhookDelivery;
  /** Background jobs (pg-boss): sync runs and webhook deliveries. */
  queue: JobQueue;
  /** Where webhook deliveries may go: the upstream SSRF policy without its vendor host list. */
  webhookNetwork: NetworkPolicy;
  /** Hears other instances' writes, on a Postgres server. */
  changes?: ChangeListener | undefined;
  /** Hosted connect page links (README "Let customers connect"). */
  connectSessions: ConnectSessionStore;
  connect: ConnectSettings;
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
  /** Requests to the connect page per client address. */
  connectClientLimit?: RateRule | undefined;
  /** Where limits are kept when there may be several instances (see limits.ts). */
  redisUrl?: string | undefined;
  sharedLimits?: boolean;
  queue?: Partial<QueueOptions> | undefined;
  webhookDisableAfterMs?: number | undefined;
  /** Where webhook receivers may be; the upstream policy when absent. */
  webhookNetwork?: NetworkPolicy | undefined;
  connect?: Partial<ConnectSettings> | undefined;
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
    connectClientRule: parts.connectClientLimit,
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
  const queue = createQueue(store, parts.logger, { ...defaultQueueOptions, ...parts.queue });
  if (changes) changeChannelGauge(metrics, () => changes.healthy);
  const webhooks = webhookStore(store.db, parts.vault);
  const eventLog = eventStore(store.db);
  const emitter = createEventEmitter({
    db: store.db,
    store: eventLog,
    webhooks,
    queue,
    metrics,
    lock: store.kind === "postgres",
    onDispatchError: (error) =>
      parts.logger.warn({ err: loggable(error) }, "events were saved but their deliveries not queued; the next tick queues them"),
  });
  const events: Events = { ...emitter, get: eventLog.get, list: eventLog.list, prune: eventLog.prune };
  // Receivers are held to the upstream policy unless a list of their own hosts is given.
  const webhookNetwork = parts.webhookNetwork ?? {
    allowPrivate: parts.upstream.network?.allowPrivate ?? false,
    allowedHosts: parts.upstream.network?.allowedHosts,
  };
  const webhookDelivery = createWebhookDelivery({
    webhooks,
    events,
    metrics,
    network: webhookNetwork,
    disableAfterMs: parts.webhookDisableAfterMs ?? 5 * 24 * 3_600_000,
  });
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
    syncs: syncStore(store.db),
    webhooks,
    events,
    webhookDelivery,
    queue,
    webhookNetwork,
    connectSessions: connectSessionStore(store.db),
    connect: { ttlSeconds: 30 * 60, maxAttempts: 5, trustProxy: false, ...parts.connect },
    async close() {
      await queue.stop();
      await webhookDelivery.close();
      await changes?.close();
      await limits.close();
    },
  };
}
