/** Resources a sync can copy, and the name their events carry. */
export const syncableResources = {
  users: "user",
  groups: "group",
  organizations: "organization",
  roles: "role",
  employees: "employee",
  // A membership is added or removed, never updated: see eventsOf in syncs.ts.
  group_members: "group_member",
} as const;
export type SyncableResource = keyof typeof syncableResources;

/** Records that have a created/updated/deleted life (memberships are added and removed instead). */
const recordNouns = Object.entries(syncableResources)
  .filter(([resource]) => resource !== "group_members")
  .map(([, noun]) => noun);

/** Every event type a sync or the gateway emits; endpoints subscribe to these or `*`. */
export const eventTypes = [
  ...recordNouns.flatMap((noun) => [`${noun}.created`, `${noun}.updated`, `${noun}.deleted`]),
  "group_member.added",
  "group_member.removed",
  "user.deactivated",
  "user.reactivated",
  "sync.completed",
  "sync.failed",
  "connection.needs_reauth",
  "connection.created",
  "connection.activated",
  "connection.reconnected",
  "connection.deleted",
  "webhook_endpoint.disabled",
  "webhook_endpoint.test",
] as const;
