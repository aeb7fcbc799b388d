import type { Database, Store } from "@unifold/db";
import { sql } from "drizzle-orm";
import { fromDrizzle, fromPglite, type Job, PgBoss } from "pg-boss";
import type { Logger } from "pino";

/** The background work, by queue. */
export const queues = {
  /** One run of one sync; at most one queued or running per sync, across every instance. */
  syncRun: "sync-run",
  /** One event to one endpoint, retried with backoff until it is delivered or given up. */
  deliver: "webhook-deliver",
  /** Every minute: start the syncs that are due, and drop events past their retention. */
  tick: "tick",
} as const;

export interface DeliveryJob {
  eventId: string;
  endpointId: string;
}

export interface QueueOptions {
  /** Seconds before the first retry of a failed delivery; doubled each time (with jitter) up to `retryDelayMaxSeconds`. */
  retryDelaySeconds: number;
  retryDelayMaxSeconds: number;
  /** Attempts after the first; with the defaults they span more than 24 hours. */
  retryLimit: number;
  /** How long a sync run may hold its job; past it (its instance died) another instance takes it over. */
  syncRunTimeoutSeconds: number;
}

export const defaultQueueOptions: QueueOptions = {
  retryDelaySeconds: 30,
  retryDelayMaxSeconds: 3_600,
  retryLimit: 30,
  syncRunTimeoutSeconds: 900,
};

/**
 * pg-boss in the gateway's own database: its own pool on a Postgres server, the same PGlite
 * when embedded. Jobs are sent inside the caller's transaction where it matters (an event and
 * its deliveries are written together, or not at all).
 */
export function createQueue(store: Store, logger: Logger, options: QueueOptions = defaultQueueOptions) {
  const boss =
    store.kind === "postgres"
      ? new PgBoss({ connectionString: store.url!, max: 3, schema: "pgboss", application_name: "unifold-jobs" })
      : new PgBoss({ db: fromPglite(store.pglite!), schema: "pgboss" });
  boss.on("error", (error: Error) => logger.warn({ err: error.message }, "job queue error"));
  let started: Promise<void> | undefined;

  return {
    boss,
    options,
    /** Creates the schema and queues (idempotent, safe for instances starting together). */
    start(): Promise<void> {
      started ??= (async () => {
        await boss.start();
        // A run whose instance died expires, and is retried once by whichever instance fetches it.
        await boss.createQueue(queues.syncRun, { policy: "exclusive", expireInSeconds: options.syncRunTimeoutSeconds, retryLimit: 1 });
        await boss.createQueue(queues.deliver, {
          retryLimit: options.retryLimit,
          retryDelay: options.retryDelaySeconds,
          retryBackoff: true,
          retryDelayMax: options.retryDelayMaxSeconds,
          expireInSeconds: 60,
        });
        await boss.createQueue(queues.tick, { policy: "exclusive", retryLimit: 0 });
      })();
      return started;
    },
    async stop(): Promise<void> {
      if (started) await boss.stop({ graceful: true, timeout: 5_000 });
    },
    /** Asks for a run of a sync now; undefined when one is already queued or running. */
    async runSync(syncId: string): Promise<string | null> {
      return boss.send(queues.syncRun, { syncId }, { singletonKey: syncId });
    },
    /** Deliveries of new events, in the transaction that wrote them. */
    async deliverInTransaction(tx: Database, jobs: DeliveryJob[]): Promise<void> {
      if (jobs.length === 0) return;
      await boss.insert(
        queues.deliver,
        jobs.map((data) => ({ data })),
        { db: fromDrizzle(tx as never, sql as never) },
      );
    },
    /** A delivery sent again by hand (a replay), or a test event. */
    async deliver(job: DeliveryJob): Promise<void> {
      await boss.send(queues.deliver, job);
    },
    async work<T extends object>(name: string, handler: (job: Job<T>) => Promise<void>): Promise<void> {
      await boss.work<T>(name, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async ([job]) => handler(job!));
    },
    /**
     * Up to `batchSize` jobs at once, each settled on its own (one failure retries that job only),
     * fetching again at once while batches come back full.
     */
    async workEach<T extends object>(name: string, handler: (job: Job<T>) => Promise<void>, batchSize: number): Promise<void> {
      await boss.work<T, unknown, { batchSize: number; perJobResults: true; burstWhenBatchFull: true; pollingIntervalSeconds: number }>(
        name,
        { batchSize, perJobResults: true, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 },
        async (jobs) =>
          Promise.all(
            jobs.map((job) =>
              handler(job).then(
                () => ({ id: job.id, status: "completed" as const }),
                (error: unknown) => ({
                  id: job.id,
                  status: "failed" as const,
                  output: { message: error instanceof Error ? error.message : String(error) },
                }),
              ),
            ),
          ),
      );
    },
  };
}

export type JobQueue = ReturnType<typeof createQueue>;
