import { createServer } from "node:net";
import { serve } from "@hono/node-server";
import { loadIntegrations, loadPushIntegrations } from "@unifold/engine";
import { createApp } from "./app.ts";
import { readConfig } from "./config.ts";
import { createLogger } from "./logger.ts";
import { openRuntime } from "./runtime.ts";
import { startWorkers } from "./jobs/workers.ts";
import { createServices, type Services } from "./services.ts";

async function main() {
  const config = readConfig();
  // Before the database opens (seconds on a first start), so a port in use fails at once.
  await ensurePortFree(config.PORT, config.HOST);
  const logger = createLogger(config.LOG_LEVEL);
  const integrations = loadIntegrations(config.UNIFOLD_MAPPINGS_DIR);
  const pushIntegrations = loadPushIntegrations(config.UNIFOLD_MAPPINGS_DIR);
  logger.info({ integrations: [...integrations.keys(), ...pushIntegrations.keys()] }, "integrations loaded");
  const { store, ring, vault } = await openRuntime(config, logger);

  const services = createServices({
    store,
    ring,
    vault,
    integrations,
    pushIntegrations,
    logger,
    cacheTtlMs: config.UNIFOLD_CACHE_TTL_MS,
    idempotencyLeaseMs: config.UNIFOLD_IDEMPOTENCY_LEASE_MS,
    upstream: {
      connectTimeoutMs: config.UNIFOLD_UPSTREAM_CONNECT_TIMEOUT_MS,
      timeoutMs: config.UNIFOLD_UPSTREAM_TIMEOUT_MS,
      maxBodyBytes: config.UNIFOLD_UPSTREAM_MAX_BODY_BYTES,
      retries: config.UNIFOLD_UPSTREAM_RETRIES,
      retryAfterCapMs: config.UNIFOLD_RETRY_AFTER_CAP_MS,
      maxConcurrencyPerConnection: config.UNIFOLD_UPSTREAM_CONCURRENCY,
      enforceRateLimits: config.UNIFOLD_ENFORCE_VENDOR_RATE_LIMITS,
      network: { allowPrivate: config.UNIFOLD_ALLOW_PRIVATE_UPSTREAMS, allowedHosts: config.UNIFOLD_UPSTREAM_ALLOWED_HOSTS },
    },
    apiKeyLimit: config.UNIFOLD_API_KEY_RATE_LIMIT ? { requests: config.UNIFOLD_API_KEY_RATE_LIMIT, per_seconds: 60 } : undefined,
    connectClientLimit: config.UNIFOLD_CONNECT_RATE_LIMIT ? { requests: config.UNIFOLD_CONNECT_RATE_LIMIT, per_seconds: 60 } : undefined,
    scimLimit: config.UNIFOLD_SCIM_RATE_LIMIT ? { requests: config.UNIFOLD_SCIM_RATE_LIMIT, per_seconds: 60 } : undefined,
    redisUrl: config.REDIS_URL,
    sharedLimits: config.UNIFOLD_SHARED_LIMITS,
    queue: {
      retryDelaySeconds: config.UNIFOLD_WEBHOOK_RETRY_DELAY_S,
      retryLimit: config.UNIFOLD_WEBHOOK_RETRY_LIMIT,
      syncRunTimeoutSeconds: config.UNIFOLD_SYNC_RUN_TIMEOUT_S,
      deliveryTimeoutSeconds: config.UNIFOLD_WEBHOOK_TIMEOUT_S,
      checkIntervalSeconds: config.UNIFOLD_JOB_CHECK_INTERVAL_S,
    },
    webhookDisableAfterMs: config.UNIFOLD_WEBHOOK_DISABLE_AFTER_HOURS * 3_600_000,
    webhookNetwork: {
      allowPrivate: config.UNIFOLD_ALLOW_PRIVATE_UPSTREAMS,
      allowedHosts: config.UNIFOLD_WEBHOOK_ALLOWED_HOSTS ?? config.UNIFOLD_UPSTREAM_ALLOWED_HOSTS,
    },
    connect: {
      ttlSeconds: config.UNIFOLD_CONNECT_TTL_S,
      maxAttempts: config.UNIFOLD_CONNECT_MAX_ATTEMPTS,
      publicUrl: config.UNIFOLD_PUBLIC_URL,
      trustProxy: config.UNIFOLD_TRUST_PROXY,
    },
  });
  const { store: limitStore } = services.access.limits;
  logger.info({ limits: limitStore }, limitStore === "memory" ? "limits kept in this process" : `limits shared through ${limitStore}`);
  await bootstrapAdminKey(services, config.UNIFOLD_ADMIN_KEY);

  const server = serve(
    {
      fetch: createApp(services).fetch,
      port: config.PORT,
      hostname: config.HOST,
      // A client that sends its headers or body too slowly is cut off, so slow clients cannot hold sockets open.
      serverOptions: {
        headersTimeout: config.UNIFOLD_CLIENT_HEADERS_TIMEOUT_MS,
        requestTimeout: config.UNIFOLD_CLIENT_REQUEST_TIMEOUT_MS,
        connectionsCheckingInterval: Math.min(1_000, config.UNIFOLD_CLIENT_HEADERS_TIMEOUT_MS),
      },
    },
    (info) => {
      logger.info({ port: info.port, host: config.HOST }, `gateway listening on http://${config.HOST}:${info.port}`);
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", (error: NodeJS.ErrnoException) => reject(error.code === "EADDRINUSE" ? portInUse(config.PORT) : error));
  });

  // The job queue's workers start a second after the gateway answers: /health and the first
  // requests do not wait for pg-boss (its start-up queries share the embedded database's one
  // connection). A request that queues a job starts the queue itself (jobs/queue.ts).
  let stopping = false;
  const workers = setTimeout(() => {
    startWorkers(services, {
      eventRetentionDays: config.UNIFOLD_EVENT_RETENTION_DAYS,
      scimLogRetentionDays: config.UNIFOLD_SCIM_LOG_RETENTION_DAYS,
    }).then(
      () => logger.info("job queue workers started"),
      (error: Error) => {
        // A stop as the workers start closes the queue under them: that is the stop, not a failure.
        if (stopping) return;
        logger.error({ err: error.message }, "the job queue could not start");
        process.stderr.write(`unifold: the job queue could not start: ${error.message}\n`);
        process.exit(1);
      },
    );
  }, config.UNIFOLD_WORKERS_DELAY_MS);

  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    clearTimeout(workers);
    logger.info({ signal }, "shutting down: draining in-flight requests");
    const force = setTimeout(() => {
      logger.warn("drain took too long; closing anyway");
      process.exit(1);
    }, config.UNIFOLD_SHUTDOWN_GRACE_MS).unref();
    server.close(async () => {
      await services.platform.upstream.close();
      await services.close();
      await store.close();
      clearTimeout(force);
      logger.info("stopped");
      process.exit(0);
    });
    // Idle keep-alive sockets would hold close() open; busy ones finish their request first.
    (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

const portInUse = (port: number) => new Error(`port ${port} is in use (set PORT)`);

/** Binds the port for a moment and lets it go: an error names the port. Port 0 (any free port) needs no check. */
async function ensurePortFree(port: number, host: string) {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer()
      .once("error", (error: NodeJS.ErrnoException) => reject(error.code === "EADDRINUSE" ? portInUse(port) : error))
      .listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/**
 * First start: register UNIFOLD_ADMIN_KEY, or generate an admin key and print it this once.
 * Instances starting together on an empty database register exactly one between them.
 */
async function bootstrapAdminKey(services: Services, configured: string | undefined) {
  const made = await services.access.apiKeys.createFirstAdmin({ name: "bootstrap admin", ...(configured && { secret: configured }) });
  if (!made) return;
  if (configured) {
    services.platform.logger.info("registered the admin key from UNIFOLD_ADMIN_KEY");
    return;
  }
  // The one time a secret is printed: on stderr, outside the JSON log, so it is easy to copy.
  process.stderr.write(
    `\n  No admin API key existed, so one was generated. It is shown this once:\n\n    ${made.secret}\n\n  Use it as: Authorization: Bearer <key>\n\n`,
  );
}

main().catch((error: Error) => {
  process.stderr.write(`unifold: cannot start: ${error.message}\n`);
  process.exit(1);
});
