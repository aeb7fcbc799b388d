import { sql } from "drizzle-orm";
import { index, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";

// precision 3 keeps timestamps equal to their JS Date round-trip, so keyset cursors are exact.
const moment = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: "date" });

export const connectionStatuses = ["active", "needs_reauth", "disabled"] as const;
export type ConnectionStatus = (typeof connectionStatuses)[number];

export const connections = pgTable(
  "connections",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: text("tenant_id").notNull(),
    integration: text("integration").notNull(),
    name: text("name"),
    status: text("status", { enum: connectionStatuses }).notNull().default("active"),
    config: jsonb("config")
      .$type<Record<string, unknown>>()
      .notNull()
      .default(sql`'{}'::jsonb`),
    /** One compact JWE (dir + A256GCM) holding the credentials object; never plain text. */
    credentials: text("credentials").notNull(),
    /** The key id that sealed `credentials`, so rotation can find what is left to re-encrypt. */
    credentialsKid: text("credentials_kid").notNull(),
    createdAt: moment("created_at").notNull().defaultNow(),
    updatedAt: moment("updated_at").notNull().defaultNow(),
    lastVerifiedAt: moment("last_verified_at"),
  },
  (t) => [
    index("connections_created_idx").on(t.createdAt, t.id),
    index("connections_tenant_idx").on(t.tenantId, t.createdAt, t.id),
    index("connections_kid_idx").on(t.credentialsKid),
  ],
);

export const apiKeyScopes = ["admin", "api"] as const;
export type ApiKeyScope = (typeof apiKeyScopes)[number];

export const apiKeys = pgTable(
  "api_keys",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    scope: text("scope", { enum: apiKeyScopes }).notNull(),
    tenantId: text("tenant_id"),
    /** SHA-256 of the secret, hex. The secret itself is shown once and never stored. */
    secretHash: text("secret_hash").notNull().unique(),
    /** The first characters of the secret, so an admin can tell keys apart. */
    prefix: text("prefix").notNull(),
    createdAt: moment("created_at").notNull().defaultNow(),
    revokedAt: moment("revoked_at"),
  },
  (t) => [index("api_keys_created_idx").on(t.createdAt, t.id)],
);

/**
 * One row per `Idempotency-Key` an API key sent on a POST: the request's fingerprint and, once
 * it finished, the answer to replay. Rows older than 24 hours no longer count.
 */
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    apiKeyId: uuid("api_key_id")
      .notNull()
      .references(() => apiKeys.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    /** SHA-256 of method, path, query and body: the same key on another request is refused. */
    requestHash: text("request_hash").notNull(),
    /** Null while the first request is still running. */
    status: integer("status"),
    body: jsonb("body"),
    createdAt: moment("created_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.apiKeyId, t.key] }), index("idempotency_keys_created_idx").on(t.createdAt)],
);

/**
 * Shared rate and concurrency counters when several instances run on one Postgres without Redis:
 * the table rate-limiter-flexible's RateLimiterDrizzle reads and writes (one row per limited key,
 * its points in the current window, and when that window ends).
 */
export const rateLimits = pgTable("rate_limits", {
  key: text("key").primaryKey(),
  points: integer("points").notNull(),
  expire: moment("expire"),
});
