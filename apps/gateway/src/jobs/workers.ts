import { attemptsOf, jobs, type JobKind, type PayloadOf, type Work } from "./queue.ts";
import { JOBS_PER_FETCH } from "../domain/events/index.ts";
import { loggable } from "../logger.ts";
import type { Services } from "../services.ts";

export interface WorkerOptions {
  /** Events older than this are dropped from the log (and can no longer be delivered). */
  eventRetentionDays: number;
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
    // The jobs' events sent side by side but in order per record (domain/webhooks/delivery.ts);
    // each job's failed events queued again as one job; then the next events of the outbox take
    // the room this batch made in the queue (domain/events/emitter.ts). A job fails (and pg-boss
    // retries all of it) only when this throws: at least once, never fewer.
    deliver: async (batch) => {
      const attempts = batch.map(attemptsOf);
      const failures = await services.webhooks.deliverAll(attempts.flat());
      let at = 0;
      for (const job of attempts) {
        const failed = job.filter((_, i) => failures[at + i]);
        at += job.length;
        if (failed.length && !(await queue.deliverLater(failed))) {
          const given = { endpointId: failed[0]!.endpointId, events: failed.length, attempts: failed[0]!.attempt };
          services.platform.logger.warn(given, "deliveries given up: every attempt failed");
        }
      }
      await services.events.dispatch().catch((error: unknown) => {
        services.platform.logger.warn({ err: loggable(error) }, "deliveries not queued after a batch; the next batch or tick queues them");
      });
      return batch.map(() => undefined);
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
  // A few jobs a fetch, each up to EVENTS_PER_JOB events to one endpoint, all sent side by side
  // (at most 100 in flight per endpoint, domain/webhooks/delivery.ts).
  await queue.workBatches("deliver", handlers.deliver, JOBS_PER_FETCH);
  await queue.work("tick", handlers.tick);
  await queue.boss.schedule(jobs.tick.name, "* * * * *");
}
