export * from "./access-tokens.ts";
export * from "./api-keys.ts";
export { type Change, type ChangeListener, publishChange } from "./changes.ts";
export * from "./connections.ts";
export * from "./paging.ts";
export * from "./events.ts";
export * from "./idempotency.ts";
export {
  type ApiKeyScope,
  apiKeyScopes,
  type ConnectionStatus,
  connectionStatuses,
  rateLimits,
  type SyncStatus,
  syncStatuses,
} from "./schema.ts";
export * from "./store.ts";
export * from "./vault.ts";
export * from "./syncs.ts";
export * from "./webhooks.ts";
export * from "./connect.ts";
export * from "./scim.ts";
