import { withCaller } from "../caller.ts";
import { listRecords } from "./records.ts";
import type { SyncsParts } from "./parts.ts";
import { createSync, findSync, listRuns, listSyncs, removeSync, runSync, runSyncNow, setSyncStatus } from "./syncs.ts";

export { presentRun, presentSync, runFailure } from "./syncs.ts";
export type { SyncsParts };

/** Syncs: scheduled walks of a connection's directory into the gateway's copy, each change announced as an event. */
export type Syncs = ReturnType<typeof createSyncs>;

export function createSyncs(parts: SyncsParts) {
  return {
    ...withCaller(parts, {
      create: createSync,
      find: findSync,
      setStatus: setSyncStatus,
      remove: removeSync,
      runNow: runSyncNow,
      list: listSyncs,
      runs: listRuns,
      /** The copy of one resource, as `GET /unified/records/{resource}` answers it. */
      records: listRecords,
    }),
    /** One run of a sync (the syncRun job). */
    run: (syncId: string, signal: AbortSignal) => runSync(parts, syncId, signal),
    /** Syncs whose next run is due, claimed so that one instance queues each. */
    claimDue: () => parts.store.claimDue(),
  };
}
