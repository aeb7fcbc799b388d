import { jobs, type JobKind, type PayloadOf, type Work } from "./queue.ts";
import { loggable } from "../logger.ts";
import type { Services } from "../services.ts";

export interface WorkerOptions {
  /** Events older than this are dropped from the log (and can no longer be delivered). */
  eventRetentionDays: number;
  /**
   * Deliveries this instance fetches from the queue at once, a batch sent side by side (at most
   * 100 in flight per endpoint, domain/webhooks/delivery.ts). Large, because each fetch sorts
   * every queued delivery: with 100,000 queued, batches of 100 spent more time fetching than sending.
   */
  deliveryBatch: number;
  /** SCIM request log entries older than this are dropped. */
  scimLogRetentionDays: number;
}

/**
 * Starts the job queue and this instance's workers. Every instance runs them: pg-boss hands each
 * job to one of them, and a sync's runs never overlap (one queued or active per sync).
 */
export async function startWorkers(services: Services, options: WorkerOptions): Promise<void> {
  const { queue } = services.platform;
  await queue.start();
  // One handler per job declared in jobs/queue.ts (the type requires each, and no other); the
  // deliver job's takes a batch.
  const handlers: { [K in Exclude<JobKind, "deliver">]: (job: Work<PayloadOf<K>>) => Promise<void> } & {
    deliver: (batch: Work<PayloadOf<"deliver">>[]) => Promise<unknown[]>;
  } = {
    syncRun: async (job) => void (await services.syncs.run(job.data.syncId, job.signal)),
    // Sent side by side but in order per record (domain/webhooks/delivery.ts); then the next
    // events of the outbox take the room this batch made in the queue (domain/events/emitter.ts).
    deliver: async (batch) => {
      const failures = await services.webhooks.deliverAll(batch.map((job) => ({ ...job.data, attempt: job.attempt })));
      await services.events.dispatch().catch((error: unknown) => {
        services.platform.logger.warn({ err: loggable(error) }, "deliveries not queued after a batch; the next batch or tick queues them");
      });
      return failures;
    },
    tick: async () => {
      for (const sync of await services.syncs.claimDue()) await queue.runSync(sync.id);
      // Events a crash left undispatched (see domain/events/emitter.ts).
      await services.events.dispatch();
      await services.events.prune(new Date(Date.now() - options.eventRetentionDays * 86_400_000));
      // An expired connect link still explains itself for a day, then goes.
      await services.connect.prune(new Date(Date.now() - 86_400_000));
      await services.scim.pruneLog(new Date(Date.now() - options.scimLogRetentionDays * 86_400_000));
    },
  };
  await queue.work("syncRun", handlers.syncRun);
  await queue.workBatches("deliver", handlers.deliver, options.deliveryBatch);
  await queue.work("tick", handlers.tick);
  await queue.boss.schedule(jobs.tick.name, "* * * * *");
}
