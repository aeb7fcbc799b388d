import type { Database, NewEvent, RecordChange, Sync, SyncRun } from "@unifold/db";
import type { DeltaDefinition, UnifiedResource } from "@unifold/engine";
import { Failure } from "../failure.ts";
import { loggable } from "../../logger.ts";
import { keysetPage } from "../cursor.ts";
import type { Deps } from "../caller.ts";
import { type Emit, eventsOfChange, recordHash, type SyncableResource } from "../events/index.ts";
import { type ChangesPage, supportedOperation, type UnifiedPage } from "../unified/index.ts";
import type { SyncsParts } from "./parts.ts";

export function presentSync(sync: Sync) {
  return {
    id: sync.id,
    tenant_id: sync.tenantId,
    connection_id: sync.connectionId,
    resources: sync.resources,
    interval: sync.intervalSeconds,
    initial_events: sync.initialEvents,
    full_interval: sync.fullIntervalSeconds,
    status: sync.status,
    next_run_at: sync.nextRunAt.toISOString(),
    created_at: sync.createdAt.toISOString(),
  };
}

export function presentRun(run: SyncRun) {
  return {
    id: run.id,
    sync_id: run.syncId,
    status: run.status,
    started_at: run.startedAt.toISOString(),
    ended_at: run.endedAt?.toISOString() ?? null,
    counts: run.counts,
    error: run.error,
  };
}

/** Registers a sync of a connection the caller reaches; its first run starts at once. */
export async function createSync(
  deps: Deps<SyncsParts>,
  input: {
    connection_id: string;
    resources: SyncableResource[];
    interval: number;
    initial_events?: boolean | undefined;
    full_interval?: number | undefined;
  },
): Promise<Sync> {
  const { connection, integration } = await deps.parts.connections.reach(deps.caller, input.connection_id);
  input.resources.forEach((resource, i) => {
    try {
      supportedOperation(integration, resource, "list");
      // Memberships are read group by group.
      if (resource === "group_members") supportedOperation(integration, "groups", "list");
    } catch (error) {
      if (!(error instanceof Failure)) throw error;
      throw new Failure("invalid_request", `resources[${i}]: ${error.message}`, {
        details: [{ path: `resources.${i}`, message: error.message }],
      });
    }
  });
  const made = await deps.parts.store.create({
    tenantId: connection.tenantId,
    connectionId: connection.id,
    resources: [...new Set(input.resources)],
    intervalSeconds: input.interval,
    initialEvents: input.initial_events ?? true,
    fullIntervalSeconds: input.full_interval,
  });
  if ("taken" in made) {
    const { resource, syncId } = made.taken;
    const at = input.resources.findIndex((r) => r === resource);
    const message = `sync ${syncId} already copies ${resource} of this connection; change or delete that sync instead`;
    throw new Failure("conflict", `resources[${at}]: ${message}`, { details: [{ path: `resources.${at}`, message }] });
  }
  await deps.parts.queue.runSync(made.sync.id);
  return made.sync;
}

/** A sync the caller may see: its tenant's, or any for an admin key. */
export async function findSync(deps: Deps<SyncsParts>, id: string): Promise<Sync> {
  const sync = await deps.parts.store.get(id);
  const tenant = deps.caller.apiKey.tenantId;
  if (!sync || (tenant && sync.tenantId !== tenant)) throw new Failure("not_found", `no sync with id ${id}`);
  return sync;
}

/** Pauses or resumes a sync the caller may see. */
export async function setSyncStatus(deps: Deps<SyncsParts>, id: string, status: Sync["status"]): Promise<Sync> {
  await findSync(deps, id);
  return (await deps.parts.store.setStatus(id, status))!;
}

export async function removeSync(deps: Deps<SyncsParts>, id: string): Promise<void> {
  await findSync(deps, id);
  await deps.parts.store.remove(id);
}

/** Asks for a run now; false when one is already queued. A paused sync is refused. */
export async function runSyncNow(deps: Deps<SyncsParts>, id: string): Promise<boolean> {
  const sync = await findSync(deps, id);
  if (sync.status === "paused") throw new Failure("conflict", `sync ${sync.id} is paused; resume it first`);
  return (await deps.parts.queue.runSync(sync.id)) !== null;
}

export async function listSyncs(deps: Deps<SyncsParts>, input: { limit: number; cursor?: string | undefined }) {
  const tenant = deps.caller.apiKey.tenantId ?? undefined;
  return keysetPage(deps.parts.cursors, `syncs:${tenant ?? ""}`, input.cursor, (after) =>
    deps.parts.store.list({ tenantId: tenant, after, limit: input.limit }),
  );
}

export async function listRuns(deps: Deps<SyncsParts>, id: string, input: { limit: number; cursor?: string | undefined }) {
  await findSync(deps, id);
  return keysetPage(deps.parts.cursors, `sync-runs:${id}`, input.cursor, (after) =>
    deps.parts.store.runs({ syncId: id, after, limit: input.limit }),
  );
}

/** A sync's events: its tenant, connection and integration on every row. */
function ofSync(sync: Sync, integration: string, rows: Omit<NewEvent, "tenantId" | "connectionId" | "integration">[]): NewEvent[] {
  return rows.map((row) => ({ ...row, tenantId: sync.tenantId, connectionId: sync.connectionId, integration }));
}

const PAGE = 200;
/** A run's first refresh of the copy's statistics, after this many written records (see syncs.analyze). */
const ANALYZE_FIRST = 5_000;

type Seen = { remoteId: string; hash: string; data: Record<string, unknown> }[];

/**
 * A resource's records, page by page, as a run records them. The next page is asked for while
 * the caller writes this one, so the vendor and the database work at the same time.
 */
async function* walk(
  deps: Deps<SyncsParts>,
  connectionId: string,
  resource: SyncableResource,
  filters: Record<string, string> = {},
): AsyncGenerator<Seen> {
  if (resource === "group_members") {
    // Every group's members, keyed by group and user: a membership has no id of its own.
    for await (const groups of pages(deps, connectionId, "groups")) {
      for (const group of groups) {
        for await (const members of pages(deps, connectionId, "group_members", group.id as string)) {
          yield members
            .filter((m) => typeof m.user_id === "string")
            .map((m): Record<string, unknown> => ({ group_id: group.id, ...m }))
            .map((data) => ({ remoteId: `${data.group_id as string}/${data.user_id as string}`, hash: recordHash(data), data }));
        }
      }
    }
    return;
  }
  for await (const records of pages(deps, connectionId, resource, undefined, filters)) yield seenOf(records);
}

const seenOf = (records: Record<string, unknown>[]): Seen =>
  records.filter((o) => typeof o.id === "string").map((data) => ({ remoteId: data.id as string, hash: recordHash(data), data }));

/**
 * One delta round of a resource, page by page (the next asked for while this one is written):
 * the records changed since `from` (every record without it) and the ids deleted upstream. The
 * round's last page names where the next round starts: handed to `end`.
 */
async function* deltaRound(
  deps: Deps<SyncsParts>,
  connectionId: string,
  resource: SyncableResource,
  from: string | undefined,
  end: { link?: string | undefined },
): AsyncGenerator<{ seen: Seen; removed: string[] }> {
  const fetch = (cursor: string | undefined) =>
    deps.parts.unified.changes(deps.caller, { connectionId, resource, from, limit: PAGE, cursor });
  let next: Promise<ChangesPage> | undefined = fetch(undefined);
  while (next) {
    const page: ChangesPage = await next;
    next = page.next_cursor ? fetch(page.next_cursor) : undefined;
    next?.catch(() => {});
    end.link = page.delta_link;
    yield { seen: seenOf(page.objects.filter((o): o is Record<string, unknown> => o !== undefined)), removed: page.removed };
  }
}

/** How far back an incremental list looks before the last run's start, for clocks that disagree. */
const SINCE_MARGIN_MS = 5 * 60_000;

/**
 * How a run reads one resource: a full walk (which alone finds what a delta cannot show, such as
 * deletions a changed-since filter hides), or only what changed since the last run, where the
 * integration declares how (`delta` in integration.yaml) and a full walk is not yet due.
 */
type ReadPlan =
  { kind: "walk"; filters: Record<string, string>; full: boolean } | { kind: "round"; from: string | undefined; full: boolean };

function planRead(sync: Sync, delta: DeltaDefinition | undefined, resource: string, now: number): ReadPlan {
  const state = sync.delta[resource] ?? {};
  const fullDue = !state.fullAt || now - Date.parse(state.fullAt) >= sync.fullIntervalSeconds * 1000;
  if (delta && "path" in delta) return { kind: "round", from: fullDue ? undefined : state.link, full: fullDue || !state.link };
  if (delta && !fullDue && state.since) return { kind: "walk", filters: { [delta.since_filter]: state.since }, full: false };
  return { kind: "walk", filters: {}, full: true };
}

/** The unified objects of a list, one page at a time, with the next page already on its way. */
async function* pages(
  deps: Deps<SyncsParts>,
  connectionId: string,
  resource: UnifiedResource,
  parentId?: string,
  filters: Record<string, string> = {},
): AsyncGenerator<Record<string, unknown>[]> {
  const fetch = (cursor: string | undefined) =>
    deps.parts.unified.list(deps.caller, { connectionId, resource, parentId, filters, limit: PAGE, cursor });
  let next: Promise<UnifiedPage> | undefined = fetch(undefined);
  while (next) {
    const page: UnifiedPage = await next;
    // Asked for before this page is handed on; a failure surfaces when it is awaited.
    next = page.next_cursor ? fetch(page.next_cursor) : undefined;
    next?.catch(() => {});
    yield page.objects.filter((o): o is Record<string, unknown> => o !== undefined);
  }
}

/**
 * One run of a sync: walks each resource through the unified read path (as a caller of that
 * tenant), records what changed with its events, and, only after a complete walk, marks what
 * was not seen as deleted. A run that fails part-way keeps what it recorded and deletes nothing.
 */
export async function runSync(parts: SyncsParts, syncId: string, signal: AbortSignal): Promise<SyncRun | undefined> {
  const sync = await parts.store.get(syncId);
  if (!sync || sync.status === "paused") return undefined;
  await parts.store.abandonRuns(syncId);
  const run = await parts.store.startRun(syncId);
  const counts: Record<string, number> = { added: 0, updated: 0, deleted: 0, unchanged: 0, full_walks: 0, delta_reads: 0 };
  const deps: Deps<SyncsParts> = { parts, caller: { apiKey: { id: `sync:${sync.id}`, tenantId: sync.tenantId }, signal } };
  const connection = await parts.connections.find(sync.connectionId);
  const integration = connection?.integration ?? "";
  // A silent baseline: until one run completes, the copy is recorded without an event per record.
  const silent = !sync.initialEvents && !(await parts.store.hasSucceeded(sync.id));
  const toEvents = (emit: Emit, resource: SyncableResource) => async (tx: Database, changes: RecordChange[]) => {
    if (silent) return;
    const rows = changes.flatMap((change) => eventsOfChange(resource, change).map((e) => ({ ...e, version: change.version })));
    await emit(tx, ofSync(sync, integration, rows));
  };
  /** After a complete walk: what it did not see is gone upstream. */
  const sweep = (resource: SyncableResource, seenIds: ReadonlySet<string>) =>
    parts.events.publish((emit) =>
      parts.store.sweepDeleted({ connectionId: sync.connectionId, resource }, seenIds, toEvents(emit, resource)),
    );
  const announce = (rows: Omit<NewEvent, "tenantId" | "connectionId" | "integration">[]) =>
    parts.events.emit(ofSync(sync, integration, rows));
  // Statistics are refreshed each time the run's written records double (5,000, 10,000,
  // 20,000, …): the estimates go wrong while the table is young, and each analyze reads a
  // sample of up to 30,000 rows (a third of a second at 100,000): every 5,000 records, a first
  // run of 100,000 spent 6.7 s of the database's time on 20 of them.
  let written = 0;
  let analyzeAt = ANALYZE_FIRST;
  const definition = parts.connections.integrations.get(integration);
  const record = async (resource: SyncableResource, seen: Seen, seenIds: Set<string>) => {
    for (const one of seen) seenIds.add(one.remoteId);
    // Committed with its events, whose deliveries are queued at once: receivers hear of
    // changes while the walk goes on.
    const applied = await parts.events.publish((emit) =>
      parts.store.applyPage({ connectionId: sync.connectionId, resource, runId: run.id }, seen, toEvents(emit, resource)),
    );
    for (const change of applied.changes) counts[change.kind === "created" ? "added" : "updated"]! += 1;
    counts.unchanged! += applied.unchanged;
    parts.metrics.recordsSeen.inc(seen.length);
    written += applied.changes.length;
    if (written >= analyzeAt) {
      await parts.store.analyze();
      analyzeAt = written * 2;
    }
  };
  const key = (resource: string) => ({ connectionId: sync.connectionId, resource, runId: run.id });
  try {
    for (const resource of sync.resources as SyncableResource[]) {
      const started = Date.now();
      // Every id a full walk saw, kept here rather than marked on each row: a run that changes
      // nothing writes nothing, and the sweep deletes what is not in it (100,000 ids: a few MB).
      const seenIds = new Set<string>();
      const delta = definition?.resources[resource]?.delta;
      let plan = planRead(sync, delta, resource, started);
      const state = sync.delta[resource] ?? {};
      if (plan.kind === "round") {
        const end: { link?: string | undefined } = {};
        const round = async (from: string | undefined) => {
          for await (const { seen, removed } of deltaRound(deps, sync.connectionId, resource, from, end)) {
            await record(resource, seen, seenIds);
            if (!removed.length) continue;
            const gone = await parts.events.publish((emit) => parts.store.deleteSeen(key(resource), removed, toEvents(emit, resource)));
            counts.deleted! += gone.length;
          }
        };
        try {
          await round(plan.from);
        } catch (error) {
          // A link the vendor no longer honours (410 Gone, as a delta token expires): a full round instead.
          if (plan.from === undefined || !(error instanceof Failure) || error.extra.upstream?.status !== 410) throw error;
          plan = { kind: "round", from: undefined, full: true };
          seenIds.clear();
          await round(undefined);
        }
        if (plan.full) counts.deleted! += (await sweep(resource, seenIds)).length;
        await parts.store.setDelta(sync.id, resource, {
          link: end.link,
          fullAt: plan.full ? new Date(started).toISOString() : state.fullAt,
        });
      } else {
        for await (const seen of walk(deps, sync.connectionId, resource, plan.filters)) await record(resource, seen, seenIds);
        if (plan.full) counts.deleted! += (await sweep(resource, seenIds)).length;
        if (delta && "since_filter" in delta) {
          const since = new Date(started - SINCE_MARGIN_MS).toISOString();
          await parts.store.setDelta(sync.id, resource, { since, fullAt: plan.full ? new Date(started).toISOString() : state.fullAt });
        }
      }
      counts[plan.full ? "full_walks" : "delta_reads"]! += 1;
    }
    // The event first: a run shown as succeeded has announced it.
    await announce([{ type: "sync.completed", version: null, data: { sync_id: sync.id, run_id: run.id, counts } }]);
    await parts.store.finishRun(run.id, { status: "succeeded", counts });
    parts.metrics.syncRuns.inc({ status: "succeeded" });
  } catch (error) {
    // Deleted (with its connection) while running: nothing is left to record a failure on.
    if (!(await parts.store.get(sync.id))) {
      parts.logger.info({ sync_id: sync.id, run_id: run.id }, "sync run stopped: the sync or its connection was deleted");
      return undefined;
    }
    const failure = runFailure(error, parts.connections.integrations.get(integration)?.name ?? "the upstream");
    if (failure.code === "internal_error") {
      parts.logger.error({ sync_id: sync.id, run_id: run.id, err: loggable(error) }, "sync run failed");
    }
    const after = await parts.connections.find(sync.connectionId);
    const reauth = after?.status === "needs_reauth" && connection?.status !== "needs_reauth";
    await announce([
      { type: "sync.failed", version: null, data: { sync_id: sync.id, run_id: run.id, counts, error: failure } },
      ...(reauth ? [{ type: "connection.needs_reauth", version: null, data: { connection_id: sync.connectionId } }] : []),
    ]);
    await parts.store.finishRun(run.id, {
      status: "failed",
      counts,
      error: `${failure.code}: ${failure.message} (the walk did not finish, so nothing was marked deleted)`,
    });
    parts.metrics.syncRuns.inc({ status: "failed" });
  }
  return parts.store.getRun(run.id);
}

/**
 * Why a run failed, as the gateway says it: a code and a short message of its own. Never a
 * driver's text, which can carry the statement and its parameters (people's names and emails),
 * nor a vendor's words: the upstream status is named instead.
 */
export function runFailure(error: unknown, vendor: string): { code: string; message: string } {
  if (error instanceof Failure) {
    const upstream = error.extra.upstream;
    return upstream
      ? { code: error.code, message: `${vendor} answered ${upstream.status}` }
      : { code: error.code, message: error.message.slice(0, 300) };
  }
  return { code: "internal_error", message: "the run stopped on an internal error; the gateway's log has its run id" };
}
