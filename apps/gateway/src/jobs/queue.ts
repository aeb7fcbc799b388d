import { randomBytes } from "node:crypto";
import type { PGlite } from "@electric-sql/pglite";
import type { Store } from "@unifold/db";
import PgBoss from "pg-boss";
import type { Logger } from "pino";
import { loggable } from "../logger.ts";

/**
 * Every background job, declared once: its queue's name, what a job carries, and how its queue
 * behaves. The handlers (jobs/workers.ts) are typed from this table, so each has exactly one.
 */
export const jobs = {
  /** One run of one sync; at most one queued and one running per sync, across every instance. */
  syncRun: {
    name: "sync-run",
    payload: {} as { syncId: string },
    // A run whose instance died expires, and is retried once by whichever instance fetches it.
    settings: (o: QueueOptions) => ({ policy: "stately", expireInSeconds: o.syncRunTimeoutSeconds, retryLimit: 1 }),
  },
  /**
   * Events to one endpoint, in event order. Its failed deliveries are queued again as a job of
   * their own, with backoff (see `deliverLater`); pg-boss retries the job itself only when its
   * worker failed as a whole (an error, or an instance that died holding it).
   */
  deliver: {
    name: "webhook-deliver",
    payload: {} as DeliveryJob | SingleDeliveryJob,
    settings: (o: QueueOptions) => ({
      retryLimit: o.retryLimit,
      retryDelay: o.retryDelaySeconds,
      retryBackoff: true,
      expireInSeconds: o.deliveryTimeoutSeconds,
    }),
  },
  /** Every minute: start the syncs that are due, hand out undelivered events, drop old ones. */
  tick: {
    name: "tick",
    payload: {} as object,
    settings: (_o: QueueOptions) => ({ policy: "stately", retryLimit: 0 }),
  },
} as const satisfies Record<string, { name: string; payload: object; settings: (o: QueueOptions) => Omit<PgBoss.Queue, "name"> }>;

export type JobKind = keyof typeof jobs;
export type PayloadOf<K extends JobKind> = (typeof jobs)[K]["payload"];

/**
 * Events to one endpoint, oldest first: one job per endpoint and dispatch batch, not one per
 * event, so the queue writes three rows per batch instead of three per event (with one job per
 * event, fetching and completing jobs took most of a delivery's database time).
 */
export interface DeliveryJob {
  endpointId: string;
  eventIds: string[];
  /** The events' attempt, 1 unless this job retries a failed one. */
  attempt?: number;
}

/** One event to one endpoint: a job queued before jobs carried batches, still worked after an upgrade. */
export interface SingleDeliveryJob {
  endpointId: string;
  eventId: string;
}

/** A delivery job's attempts: each event to the endpoint, and which attempt it is (a crashed worker's retry counts too). */
export function attemptsOf(job: Work<PayloadOf<"deliver">>): { endpointId: string; eventId: string; attempt: number }[] {
  const { data } = job;
  const attempt = ("attempt" in data ? (data.attempt ?? 1) : 1) + job.attempt - 1;
  const eventIds = "eventIds" in data ? data.eventIds : [data.eventId];
  return eventIds.map((eventId) => ({ endpointId: data.endpointId, eventId, attempt }));
}

/**
 * A delivery job's id, which sorts as its first event's seq. pg-boss hands jobs out by (created_on, id),
 * and the jobs of one insert share created_on: random ids would hand a record's later event out
 * before its earlier one. The rest is random (an event goes to several endpoints).
 */
export function deliveryJobId(seq: number): string {
  const hex = seq.toString(16).padStart(16, "0") + randomBytes(8).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A job as a worker gets it: what to do, which attempt this is, and a signal for shutdown. */
export interface Work<T> {
  data: T;
  attempt: number;
  signal: AbortSignal;
}

export interface QueueOptions {
  /** Seconds before the first retry of a failed delivery, doubled on each retry. */
  retryDelaySeconds: number;
  /** Retries after the first attempt; with the defaults (30 s, 12) the last is ≈34 hours later. */
  retryLimit: number;
  /** How long a sync run may hold its job; past it (its instance died) another instance takes it over. */
  syncRunTimeoutSeconds: number;
  /** The same for one delivery attempt. */
  deliveryTimeoutSeconds: number;
  /** How often each instance looks for jobs held past their timeout (their instance died). */
  checkIntervalSeconds: number;
}

export const defaultQueueOptions: QueueOptions = {
  retryDelaySeconds: 30,
  retryLimit: 12,
  syncRunTimeoutSeconds: 900,
  deliveryTimeoutSeconds: 60,
  checkIntervalSeconds: 60,
};

/**
 * pg-boss's database interface over the embedded PGlite: a statement with parameters goes
 * through `query`; pg-boss's multi-statement scripts (its schema) through `exec`.
 */
function pgliteExecutor(pglite: PGlite): PgBoss.Db {
  return {
    async executeSql(text, values) {
      if (values?.length) return pglite.query(text, values);
      const results = await pglite.exec(text);
      return { rows: results.at(-1)?.rows ?? [] };
    },
  };
}

/**
 * pg-boss in the gateway's own database: its own small pool on a Postgres server, the same
 * PGlite when embedded. (pg-boss 10: the later majors need Node 22, and this project supports 20.)
 */
export function createQueue(store: Store, logger: Logger, options: QueueOptions = defaultQueueOptions) {
  const common = { schema: "pgboss", maintenanceIntervalSeconds: options.checkIntervalSeconds, monitorStateIntervalSeconds: 60 };
  const boss =
    store.kind === "postgres"
      ? new PgBoss({ ...common, connectionString: store.url!, max: 3, application_name: "unifold-jobs" })
      : new PgBoss({ ...common, db: pgliteExecutor(store.pglite!) });
  boss.on("error", (error: Error) => logger.warn({ err: error.message }, "job queue error"));
  const stopping = new AbortController();
  let started: Promise<void> | undefined;

  return {
    boss,
    options,
    /** Creates pg-boss's schema and the queues (idempotent; safe for instances starting together). */
    start(): Promise<void> {
      if (stopping.signal.aborted) return Promise.reject(new Error("the job queue is stopping"));
      started ??= (async () => {
        // pg-boss checks whether its schema exists before it takes its lock, so instances starting
        // together on an empty database would both create it: one at a time, behind our own lock.
        await store.exclusive("unifold:job-queue-schema", async () => {
          await boss.start();
          for (const job of Object.values(jobs)) {
            if (!(await boss.getQueue(job.name))) await boss.createQueue(job.name, { name: job.name, ...job.settings(options) });
          }
        });
      })();
      return started;
    },
    async stop(): Promise<void> {
      stopping.abort();
      if (!started) return;
      // A stop while the queue starts waits for the start: stopped half-way, pg-boss would go on.
      await started.catch(() => {});
      await boss.stop({ graceful: true, timeout: 5_000, wait: true });
    },
    /** Asks for a run of a sync now; null when one is already queued (a running one is not doubled either). */
    async runSync(syncId: string): Promise<string | null> {
      await this.start(); // the workers start a moment after the gateway listens; a request may come first
      return boss.send(jobs.syncRun.name, { syncId } satisfies PayloadOf<"syncRun">, { singletonKey: syncId });
    },
    /** Deliveries queued and not yet taken, retries waiting their turn aside. */
    async deliveriesWaiting(): Promise<number> {
      await this.start();
      return boss.getQueueSize(jobs.deliver.name, { before: "retry" });
    },
    /** Queues deliveries; those given their first event's `seq` are handed out in that order. */
    async deliver(deliveries: (DeliveryJob & { seq?: number })[]): Promise<void> {
      if (!deliveries.length) return;
      await this.start();
      await boss.insert(
        deliveries.map(({ seq, ...data }) => ({ name: jobs.deliver.name, data, ...(seq !== undefined && { id: deliveryJobId(seq) }) })),
      );
    },
    /**
     * Queues a job's failed attempts (one endpoint, one attempt's number) as one job for their
     * next attempt, after that attempt's backoff (`retryDelaySeconds`, doubled per attempt);
     * false, queuing nothing, when `retryLimit` retries are spent.
     */
    async deliverLater(failed: { endpointId: string; eventId: string; attempt: number }[]): Promise<boolean> {
      const [{ endpointId, attempt }] = failed as [(typeof failed)[number]]; // one job's: one endpoint, one attempt
      if (attempt > options.retryLimit) return false;
      const startAfter = new Date(Date.now() + options.retryDelaySeconds * 1000 * 2 ** (attempt - 1));
      const data: DeliveryJob = { endpointId, eventIds: failed.map((one) => one.eventId), attempt: attempt + 1 };
      await boss.insert([{ name: jobs.deliver.name, data, startAfter }]);
      return true;
    },
    /**
     * Up to `batchSize` jobs fetched at once and worked side by side, each settled on its own:
     * a failure fails (and so retries) that job only.
     */
    async work<K extends JobKind>(kind: K, handler: (job: Work<PayloadOf<K>>) => Promise<void>, batchSize = 1): Promise<void> {
      return this.workBatches(
        kind,
        (batch) =>
          Promise.all(
            batch.map((job) =>
              handler(job).then(
                () => undefined,
                (error: unknown) => error,
              ),
            ),
          ),
        batchSize,
      );
    },
    /**
     * Up to `batchSize` jobs fetched at once and handed to `handler` together, which answers, per
     * job, the error that fails (and so retries) it, or undefined. The next batch is fetched once
     * this one is settled.
     */
    async workBatches<K extends JobKind>(
      kind: K,
      handler: (batch: Work<PayloadOf<K>>[]) => Promise<unknown[]>,
      batchSize: number,
    ): Promise<void> {
      const { name } = jobs[kind];
      let workerId = "";
      workerId = await boss.work<PayloadOf<K>>(name, { batchSize, includeMetadata: true, pollingIntervalSeconds: 0.5 }, async (jobs) => {
        let errors: unknown[];
        try {
          errors = await handler(jobs.map((job) => ({ data: job.data, attempt: job.retryCount + 1, signal: stopping.signal })));
        } catch (error) {
          errors = jobs.map(() => error);
        }
        await Promise.all(
          jobs.map(async (job, at) => {
            const error = errors[at];
            if (error === undefined) return;
            // Kept in the job table: never a database message, which quotes the statement's values.
            const { message, name: kind, sqlstate } = loggable(error);
            await boss.fail(name, job.id, { message: typeof message === "string" ? message : `${kind} (SQLSTATE ${sqlstate})` });
          }),
        );
        // A full batch means more are waiting: fetch again at once instead of after the polling interval.
        if (jobs.length === batchSize && workerId) boss.notifyWorker(workerId);
      });
    },
  };
}

export type JobQueue = ReturnType<typeof createQueue>;
