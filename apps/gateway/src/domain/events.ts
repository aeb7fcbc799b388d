/** Resources a sync can copy, and the name their events carry. */
export const syncableResources = {
  users: "user",
  groups: "group",
  organizations: "organization",
  roles: "role",
  employees: "employee",
} as const;
export type SyncableResource = keyof typeof syncableResources;

/** Every event type a sync or the gateway emits; endpoints subscribe to these or `*`. */
export const eventTypes = [
  ...Object.values(syncableResources).flatMap((noun) => [`${noun}.created`, `${noun}.updated`, `${noun}.deleted`]),
  "user.deactivated",
  "user.reactivated",
  "sync.completed",
  "sync.failed",
  "connection.needs_reauth",
  "connection.created",
  "connection.reconnected",
  "webhook_endpoint.disabled",
  "webhook_endpoint.test",
] as const;
