import { createHash } from "node:crypto";
import type { RecordChange } from "@unifold/db";
import stringify from "safe-stable-stringify";
import { type SyncableResource, syncableResources } from "./types.ts";

/*
 * The events a change of the copy makes, the same whether a sync walked it or a provider pushed it.
 */

/** The hash a record is compared by: its unified form in canonical JSON (keys sorted). */
export function recordHash(record: Record<string, unknown>): string {
  return createHash("sha256").update(stringify(record)!).digest("base64url");
}

/** Top-level fields whose values differ. */
function changedFields(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((key) => stringify(before[key]) !== stringify(after[key])).sort();
}

/**
 * The events one change makes: a status move between active and inactive is its own event; a
 * membership is added or removed (a member's changed name is the user's update, not the group's).
 */
export function eventsOfChange(resource: SyncableResource, change: RecordChange): { type: string; data: Record<string, unknown> }[] {
  const noun = syncableResources[resource];
  if (resource === "group_members") {
    return change.kind === "updated"
      ? []
      : [{ type: `group_member.${change.kind === "created" ? "added" : "removed"}`, data: change.data }];
  }
  if (change.kind !== "updated") return [{ type: `${noun}.${change.kind}`, data: change.data }];
  const fields = changedFields(change.before, change.data);
  const moved = resource === "users" ? statusMove(change.before.status, change.data.status) : undefined;
  // A move's own timestamp belongs to the move, and a timestamp alone is no news: only another
  // field makes an update (a vendor attribute the model lacks moves nothing but updated_at).
  const others = fields.filter((field) => field !== "status" || !moved);
  if (others.every((field) => field === "updated_at")) others.length = 0;
  return [
    ...(moved ? [{ type: `user.${moved}`, data: change.data }] : []),
    ...(others.length ? [{ type: `${noun}.updated`, data: { ...change.data }, changed: others }] : []),
  ].map(({ type, data, changed }: { type: string; data: Record<string, unknown>; changed?: string[] }) => ({
    type,
    data: changed ? { ...data, changed_fields: changed } : data,
  }));
}

function statusMove(before: unknown, after: unknown): "deactivated" | "reactivated" | undefined {
  if (before === "active" && after === "inactive") return "deactivated";
  if (before === "inactive" && after === "active") return "reactivated";
  return undefined;
}
