export * from "./api-keys.ts";
export * from "./connections.ts";
export * from "./idempotency.ts";
export { type ApiKeyScope, apiKeyScopes, type ConnectionStatus, connectionStatuses } from "./schema.ts";
export * from "./store.ts";
export * from "./vault.ts";
