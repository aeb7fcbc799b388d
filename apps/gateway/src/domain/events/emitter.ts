import type { Database, EventRow, EventStore, NewEvent, WebhookStore } from "@unifold/db";
import type { JobQueue } from "../../jobs/queue.ts";
import type { Metrics } from "../../metrics.ts";

/** Appends events in the transaction it is given (the one that makes the change they announce). */
export type Emit = (tx: Database, rows: NewEvent[]) => Promise<EventRow[]>;

/**
 * The one way the gateway writes events. `publish` hands its work an `emit` bound to nothing but
 * the transaction the work passes it; once the work has returned (its transactions committed),
 * the new events' deliveries are queued. Nothing else appends events or queues deliveries, so no
 * caller can forget to. The outbox behind it (events.dispatched_at) keeps an event whose
 * dispatch a crash cut short; the tick job dispatches it later.
 */
export interface EventEmitter {
  publish<T>(work: (emit: Emit) => Promise<T>): Promise<T>;
  /** Events on their own: appended in a transaction of their own, then dispatched. */
  emit(rows: NewEvent[]): Promise<EventRow[]>;
  /** Queues the deliveries of every event not yet dispatched (the tick job's backstop). */
  dispatch(): Promise<number>;
}

export interface EmitterParts {
  db: Database;
  store: EventStore;
  webhooks: Pick<WebhookStore, "subscribers">;
  queue: Pick<JobQueue, "deliver" | "deliveriesWaiting">;
  metrics: Pick<Metrics, "eventsMade">;
  /** A Postgres server: concurrent dispatchers on other instances are kept apart by row locks. */
  lock: boolean;
  /** Told of a dispatch that failed after its events were committed (the tick dispatches them later). */
  onDispatchError?: (error: unknown) => void;
}

export function createEventEmitter(parts: EmitterParts): EventEmitter {
  const { db, store, metrics } = parts;
  // One dispatch at a time in this process; other instances are kept apart by row locks. A
  // caller whose events are committed joins a dispatch that has not begun yet (it will read
  // them), so concurrent writers share one dispatch instead of queueing one each.
  let last: Promise<number> = Promise.resolve(0);
  let notBegun: Promise<number> | undefined;
  const dispatch = () => {
    if (notBegun) return notBegun;
    const next = last
      .catch(() => 0)
      .then(() => {
        notBegun = undefined;
        return dispatchNow(parts);
      });
    notBegun = next;
    last = next;
    return next;
  };
  const publish = async <T>(work: (emit: Emit) => Promise<T>): Promise<T> => {
    let pending = 0;
    let made = 0;
    const result = await work(async (tx, rows) => {
      const appended = await store.append(tx, rows);
      pending += appended.filter((event) => event.pending).length;
      made += appended.length;
      return appended;
    });
    // Counted once the work has returned: events of a transaction that rolled back were never made.
    metrics.eventsMade.inc(made);
    // Committed already: a dispatch that fails now is retried by the tick, and the caller's
    // work (a sync page's counts, say) still stands. Events no endpoint takes were written dispatched.
    if (pending) await dispatch().catch((error: unknown) => parts.onDispatchError?.(error));
    return result;
  };
  return {
    publish,
    emit: (rows) => publish((emit) => db.transaction((tx) => emit(tx as unknown as Database, rows))),
    dispatch,
  };
}

/**
 * Delivery jobs queued ahead of the workers at most; the rest of the events wait in the outbox,
 * and each delivery batch dispatches more (jobs/workers.ts). pg-boss sorts every queued job to
 * hand out a batch: the queue stays short.
 */
const QUEUED_AHEAD = 100;

/**
 * Events in one delivery job at most, and the jobs a worker fetches at once: a fetch holds at
 * most 500 events, so to an endpoint that never answers it is 5 rounds of 100 sockets waiting
 * 10 s each, within the 60 s a fetch may take before the queue hands its jobs out again.
 */
export const EVENTS_PER_JOB = 125;
export const JOBS_PER_FETCH = 4;

/**
 * Queues the deliveries of events not yet dispatched, oldest first, while fewer than
 * QUEUED_AHEAD jobs wait in the queue: one job per endpoint and batch of events, to each of the
 * tenant's enabled endpoints that take the event's type, in event order. A test event goes to
 * its own endpoint only; a `webhook_endpoint.disabled` to every endpoint but the disabled one.
 */
function dispatchNow({ store, webhooks, queue, lock }: EmitterParts): Promise<number> {
  return store.dispatch(
    async (rows) => {
      const subscribers = new Map<string, Promise<string[]>>();
      type Job = { endpointId: string; eventIds: string[]; seq: number };
      const jobs: Job[] = [];
      const open = new Map<string, Job>(); // each endpoint's job still taking events
      for (const event of rows) {
        const key = `${event.tenantId}\u0000${event.type}`;
        if (!subscribers.has(key)) {
          subscribers.set(
            key,
            webhooks.subscribers(event.tenantId, event.type).then((list) => list.map((e) => e.id)),
          );
        }
        let endpoints = await subscribers.get(key)!;
        if (event.type === "webhook_endpoint.test") endpoints = [String(event.endpointId)];
        if (event.type === "webhook_endpoint.disabled") endpoints = endpoints.filter((id) => id !== event.endpointId);
        for (const endpointId of endpoints) {
          let job = open.get(endpointId);
          if (!job || job.eventIds.length === EVENTS_PER_JOB) {
            jobs.push((job = { endpointId, eventIds: [], seq: event.seq }));
            open.set(endpointId, job);
          }
          job.eventIds.push(event.id);
        }
      }
      await queue.deliver(jobs);
    },
    { lock, room: async () => (await queue.deliveriesWaiting()) < QUEUED_AHEAD },
  );
}
