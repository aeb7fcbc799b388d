import type { EventRow } from "@unifold/db";
import type { Caller } from "../caller.ts";
import { createEventEmitter, type EventEmitter } from "./emitter.ts";
import { listEvents } from "./log.ts";
import type { EventsParts } from "./parts.ts";

export { EVENTS_PER_JOB, JOBS_PER_FETCH, type Emit } from "./emitter.ts";
export type { EventsParts };
export { eventsOfChange, recordHash } from "./changes.ts";
export { presentEvent } from "./present.ts";
export { eventTypes, type SyncableResource, syncableResources } from "./types.ts";

/** Events: the one emitter (append in the caller's transaction, then queue deliveries) and the event log. */
export interface Events extends EventEmitter {
  get(id: string): Promise<EventRow | undefined>;
  /** The events of these ids that still exist, in no particular order. */
  getMany(ids: string[]): Promise<EventRow[]>;
  /** The event log as the caller's key may read it, oldest first, under a cursor. */
  list(caller: Caller, input: Parameters<typeof listEvents>[1]): ReturnType<typeof listEvents>;
  /** Drops events older than `before` (the retention job). */
  prune(before: Date): Promise<number>;
}

export function createEvents(parts: EventsParts): Events {
  const emitter = createEventEmitter(parts);
  return {
    ...emitter,
    get: (id) => parts.store.get(id),
    getMany: (ids) => parts.store.getMany(ids),
    list: (caller, input) => listEvents({ parts, caller }, input),
    prune: (before) => parts.store.prune(before),
  };
}
