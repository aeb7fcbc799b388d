/*
 * How a record a walk (or a push) saw changes the synced copy: the decision alone, without SQL,
 * so it can be tested on its own. syncs.ts reads the copy's rows and writes what this answers.
 */

/** One record as a run saw it: its id upstream, the hash of its unified form, and that form. */
export interface SeenRecord {
  remoteId: string;
  hash: string;
  data: Record<string, unknown>;
}

/** What a page of a run changed in the synced copy. */
export type RecordChange =
  | { kind: "created"; remoteId: string; version: number; data: Record<string, unknown> }
  | { kind: "updated"; remoteId: string; version: number; data: Record<string, unknown>; before: Record<string, unknown> }
  | { kind: "deleted"; remoteId: string; version: number; data: Record<string, unknown> };

/** The copy's row of a record, as far as the decision needs it; a tombstone has `deletedAt`. */
export interface CopiedRecord {
  hash: string;
  data: Record<string, unknown>;
  version: number;
  deletedAt: Date | null;
}

/**
 * The change a seen record makes, or undefined when the copy already holds it (same hash, not
 * deleted): only marked seen, no new version, no event. A record the copy lacks, or holds as
 * deleted, is created again; any other is updated. A change takes the copy's next version.
 */
export function recordChange(before: CopiedRecord | undefined, record: SeenRecord): RecordChange | undefined {
  const live = before !== undefined && before.deletedAt === null;
  if (live && before.hash === record.hash) return undefined;
  const version = (before?.version ?? 0) + 1;
  return live
    ? { kind: "updated", remoteId: record.remoteId, version, data: record.data, before: before.data }
    : { kind: "created", remoteId: record.remoteId, version, data: record.data };
}
