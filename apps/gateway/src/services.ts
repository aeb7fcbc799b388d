import {
  accessTokenStore,
  type ApiKeyStore,
  apiKeyStore,
  connectionStore,
  connectSessionStore,
  type IdempotencyStore,
  idempotencyStore,
  type ChangeListener,
  eventStore,
  syncStore,
  webhookStore,
  type KeyRing,
  scimStore,
  type Store,
  type Vault,
} from "@unifold/db";
import {
  type CursorCodec,
  createCursorCodec,
  createUpstreamClient,
  type Integration,
  type NetworkPolicy,
  type PushIntegration,
  type RateRule,
  type UpstreamClient,
  type UpstreamClientOptions,
} from "@unifold/engine";
import type { Logger } from "pino";
import { loggable } from "./logger.ts";
import { createLimits, type Limits } from "./limits.ts";
import { createQueue, defaultQueueOptions, type JobQueue, type QueueOptions } from "./jobs/queue.ts";
import { changeChannelGauge, createMetrics, type Metrics, upstreamObserver, upstreamSlotsGauge } from "./metrics.ts";
import { type Connect, type ConnectSettings, createConnect } from "./domain/connect/index.ts";
import { type Connections, createConnections } from "./domain/connections/index.ts";
import { createEvents, type Events } from "./domain/events/index.ts";
import { createScim, type Scim } from "./domain/scim/index.ts";
import { createSyncs, type Syncs } from "./domain/syncs/index.ts";
import { createUnified, type Unified } from "./domain/unified/index.ts";
import { createWebhooks, type Webhooks } from "./domain/webhooks/index.ts";

/** What every part of the gateway may stand on: the database, the log, metrics, upstream calls, cursors and jobs. */
export interface Platform {
  store: Store;
  logger: Logger;
  metrics: Metrics;
  upstream: UpstreamClient;
  cursors: CursorCodec;
  /** Background jobs (pg-boss): sync runs and webhook deliveries. */
  queue: JobQueue;
  /** Hears other instances' writes, on a Postgres server. */
  changes?: ChangeListener | undefined;
}

/** Who may call, how often, and what a retried write already did: the HTTP edge's middleware uses these. */
export interface Access {
  apiKeys: ApiKeyStore;
  idempotency: IdempotencyStore;
  /** The API-key limit, the connect page's per-address limit and the shared pacing (see limits.ts). */
  limits: Limits;
}

/**
 * The gateway: its platform, the HTTP edge's access checks, and one module per feature. Each
 * module is built from only the parts it uses and reaches another only through that one's
 * public interface (`domain/<feature>/index.ts`).
 */
export interface Services {
  platform: Platform;
  access: Access;
  connections: Connections;
  /** Unified reads and writes, batches, proxy and passthrough. */
  unified: Unified;
  syncs: Syncs;
  /** The one way events are written (and their deliveries queued), and the event log. */
  events: Events;
  webhooks: Webhooks;
  /** Hosted connect page links (README "Let customers connect"). */
  connect: Connect;
  /** The SCIM 2.0 service directories that push provision into. */
  scim: Scim;
  /** Stops the jobs, deliveries and listening, and closes the limit store; the database is closed by whoever opened it. */
  close(): Promise<void>;
}

export interface ServiceParts {
  store: Store;
  ring: KeyRing;
  vault: Vault;
  integrations: ReadonlyMap<string, Integration>;
  /** Integrations whose directories push (`direction: push`); none when absent. */
  pushIntegrations?: ReadonlyMap<string, PushIntegration> | undefined;
  logger: Logger;
  /** How long a connection or API key read stays cached on this instance. */
  cacheTtlMs: number;
  /** How long an unfinished Idempotency-Key claim holds before another request may take it over. */
  idempotencyLeaseMs: number;
  upstream: Omit<UpstreamClientOptions, "observe" | "sharedPacing">;
  apiKeyLimit?: RateRule | undefined;
  /** Requests to the connect page per client address. */
  connectClientLimit?: RateRule | undefined;
  /** Requests to one push connection's SCIM service (its identity provider's). */
  scimLimit?: RateRule | undefined;
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
  const { store, logger, integrations } = parts;
  const limits = createLimits({
    store,
    redisUrl: parts.redisUrl,
    shared: parts.sharedLimits ?? true,
    apiKeyRule: parts.apiKeyLimit,
    connectClientRule: parts.connectClientLimit,
    scimRule: parts.scimLimit,
    logger,
  });
  // Where limits are shared, access tokens are too: one token request serves every instance.
  const sharedTokens = (parts.sharedLimits ?? true) ? accessTokenStore(store.db, parts.vault) : undefined;
  const upstream = createUpstreamClient({
    ...parts.upstream,
    sharedPacing: limits.pacing,
    sharedTokens,
    observe: upstreamObserver(metrics),
  });
  upstreamSlotsGauge(metrics, upstream.inFlight);
  const connectionRows = connectionStore(store.db, parts.vault, { cacheTtlMs: parts.cacheTtlMs });
  const apiKeys = apiKeyStore(store.db, { cacheTtlMs: parts.cacheTtlMs });
  const scimRows = scimStore(store.db, { cacheTtlMs: parts.cacheTtlMs });
  // Another instance's revocation, deletion or patch reaches this one's caches at once.
  const changes = store.listenForChanges?.({
    onChange: (change) => {
      connectionRows.forget(change);
      apiKeys.forget(change);
      scimRows.forget(change);
    },
    onGap: () => {
      connectionRows.forget();
      apiKeys.forget();
      scimRows.forget();
    },
  });
  if (changes) changeChannelGauge(metrics, () => changes.healthy);
  const queue = createQueue(store, logger, { ...defaultQueueOptions, ...parts.queue });
  const cursors = createCursorCodec(parts.ring.current.key);
  const webhookRows = webhookStore(store.db, parts.vault);

  const events = createEvents({
    db: store.db,
    store: eventStore(store.db),
    webhooks: webhookRows,
    queue,
    metrics,
    cursors,
    lock: store.kind === "postgres",
    onDispatchError: (error) =>
      logger.warn({ err: loggable(error) }, "events were saved but their deliveries not queued; the next tick queues them"),
  });
  const pushIntegrations = parts.pushIntegrations ?? new Map<string, PushIntegration>();
  const connections = createConnections({
    store: connectionRows,
    integrations,
    pushed: new Set(pushIntegrations.keys()),
    upstream,
    cursors,
    metrics,
    events,
  });
  const copy = syncStore(store.db);
  const scim = createScim({ store: scimRows, copy, cursors, integrations: pushIntegrations, connections, events, logger });
  const unified = createUnified({ connections, pushed: scim, upstream, cursors, metrics, logger });
  const syncs = createSyncs({ store: copy, queue, cursors, events, connections, unified, metrics, logger });
  const webhooks = createWebhooks({
    store: webhookRows,
    cursors,
    // Receivers are held to the upstream policy unless a list of their own hosts is given.
    network: parts.webhookNetwork ?? {
      allowPrivate: parts.upstream.network?.allowPrivate ?? false,
      allowedHosts: parts.upstream.network?.allowedHosts,
    },
    queue,
    events,
    metrics,
    disableAfterMs: parts.webhookDisableAfterMs ?? 5 * 24 * 3_600_000,
  });
  const connect = createConnect({
    sessions: connectSessionStore(store.db),
    settings: { ttlSeconds: 30 * 60, maxAttempts: 5, trustProxy: false, ...parts.connect },
    connections,
    events,
    scim,
  });
  return {
    platform: { store, logger, metrics, upstream, cursors, queue, changes },
    access: { apiKeys, idempotency: idempotencyStore(store.db, { leaseMs: parts.idempotencyLeaseMs }), limits },
    connections,
    unified,
    syncs,
    events,
    webhooks,
    connect,
    scim,
    async close() {
      await queue.stop();
      await scim.close();
      await webhooks.close();
      await changes?.close();
      await limits.close();
    },
  };
}
