import { sql } from "drizzle-orm";
import {
  bigserial,
  boolean,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

const xid8 = customType<{ data: string }>({ dataType: () => "xid8" });

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
    /**
     * SHA-256 of the integration, base URL and upstream account (or, where the vendor names no
     * account, the credentials): the same account linked twice has the same value. Never the
     * secret itself.
     */
    accountRef: text("account_ref"),
  },
  (t) => [
    index("connections_created_idx").on(t.createdAt, t.id),
    index("connections_account_idx").on(t.tenantId, t.accountRef),
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

/**
 * Upstream access tokens every instance can use (an OAuth token of a connection's credentials),
 * keyed by a digest of the grant: one token request serves all instances. The token is sealed
 * like credentials; a row past `renew_at` is no longer handed out.
 */
export const accessTokens = pgTable("access_tokens", {
  key: text("key").primaryKey(),
  sealed: text("sealed").notNull(),
  renewAt: moment("renew_at").notNull(),
});

/** Where a tenant wants change events sent. The signing secret is sealed like credentials. */
export const webhookEndpoints = pgTable(
  "webhook_endpoints",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: text("tenant_id").notNull(),
    url: text("url").notNull(),
    description: text("description"),
    /** Event types sent here; `*` for every type. */
    events: jsonb("events").$type<string[]>().notNull(),
    enabled: boolean("enabled").notNull().default(true),
    /** Why it was disabled by the gateway (410, failing too long); null when an admin did, or when enabled. */
    disabledReason: text("disabled_reason"),
    /** A JWE of {secret} and, during a rotation's overlap, {previous, previous_until}. */
    secret: text("secret").notNull(),
    secretKid: text("secret_kid").notNull(),
    /** Since when every delivery has failed; null after a success. */
    failingSince: moment("failing_since"),
    createdAt: moment("created_at").notNull().defaultNow(),
    updatedAt: moment("updated_at").notNull().defaultNow(),
  },
  (t) => [index("webhook_endpoints_tenant_idx").on(t.tenantId, t.createdAt, t.id)],
);

export const syncStatuses = ["active", "paused"] as const;
export type SyncStatus = (typeof syncStatuses)[number];

/** A connection's resources copied on a schedule, with what changed sent as events. */
/**
 * Where a sync reads one resource's changes from next: the link a delta round ended with, or the
 * time the last complete run started (for a list filtered by `updated_after`); and when the last
 * full walk completed.
 */
export interface SyncDelta {
  link?: string;
  since?: string;
  fullAt?: string;
}

export const syncs = pgTable(
  "syncs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: text("tenant_id").notNull(),
    connectionId: uuid("connection_id")
      .notNull()
      .references(() => connections.id, { onDelete: "cascade" }),
    resources: jsonb("resources").$type<string[]>().notNull(),
    intervalSeconds: integer("interval_seconds").notNull(),
    /** False: the first complete run records the copy without announcing every record. */
    initialEvents: boolean("initial_events").notNull().default(true),
    /** Where the integration reads only changes: a full walk (which finds deletions) at most this long apart. */
    fullIntervalSeconds: integer("full_interval_seconds").notNull().default(86_400),
    /** Per resource, where its changes are read from next (see SyncDelta). */
    delta: jsonb("delta").$type<Record<string, SyncDelta>>().notNull().default({}),
    status: text("status", { enum: syncStatuses }).notNull().default("active"),
    nextRunAt: moment("next_run_at").notNull().defaultNow(),
    createdAt: moment("created_at").notNull().defaultNow(),
  },
  (t) => [index("syncs_tenant_idx").on(t.tenantId, t.createdAt, t.id), index("syncs_due_idx").on(t.status, t.nextRunAt)],
);

export const syncRuns = pgTable(
  "sync_runs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    syncId: uuid("sync_id")
      .notNull()
      .references(() => syncs.id, { onDelete: "cascade" }),
    status: text("status", { enum: ["running", "succeeded", "failed"] }).notNull(),
    startedAt: moment("started_at").notNull().defaultNow(),
    endedAt: moment("ended_at"),
    /** added / updated / deleted / unchanged, per resource and in total. */
    counts: jsonb("counts").$type<Record<string, number>>().notNull(),
    error: text("error"),
  },
  (t) => [index("sync_runs_sync_idx").on(t.syncId, t.startedAt, t.id)],
);

/** The synced copy: one row per record a sync has seen, with the hash of its unified form. */
export const syncRecords = pgTable(
  "sync_records",
  {
    connectionId: uuid("connection_id")
      .notNull()
      .references(() => connections.id, { onDelete: "cascade" }),
    resource: text("resource").notNull(),
    remoteId: text("remote_id").notNull(),
    /** SHA-256 of the unified object without remote_data, in canonical JSON. */
    hash: text("hash").notNull(),
    data: jsonb("data").$type<Record<string, unknown>>().notNull(),
    /** Increases with every change of this record, so a receiver can drop an older event. */
    version: integer("version").notNull(),
    /** The run (or, pushed, the connection) that last wrote it. */
    seenBy: uuid("seen_by").notNull(),
    firstSeenAt: moment("first_seen_at").notNull().defaultNow(),
    /**
     * When a run last wrote it (a change; an unchanged record is not written). Read through
     * syncStore.records, a live record's is the later of this and the start of its sync's latest
     * succeeded run, which saw it (see lastConfirmed in syncs.ts).
     */
    lastSeenAt: moment("last_seen_at").notNull().defaultNow(),
    modifiedAt: moment("modified_at").notNull().defaultNow(),
    deletedAt: moment("deleted_at"),
  },
  (t) => [
    primaryKey({ columns: [t.connectionId, t.resource, t.remoteId] }),
    index("sync_records_modified_idx").on(t.connectionId, t.resource, t.modifiedAt),
  ],
);

/** Every event, for webhooks and for the event log (`seq` orders and pages them). */
export const events = pgTable(
  "events",
  {
    seq: bigserial("seq", { mode: "number" }).primaryKey(),
    id: text("id").notNull().unique(),
    tenantId: text("tenant_id").notNull(),
    connectionId: uuid("connection_id"),
    integration: text("integration"),
    type: text("type").notNull(),
    version: integer("version"),
    data: jsonb("data").$type<Record<string, unknown>>().notNull(),
    createdAt: moment("created_at").notNull().defaultNow(),
    /**
     * The writing transaction's id. `seq` is taken before commit, so a later seq can commit first;
     * the log only shows events whose transaction is older than every one still running, so a
     * reader paging by seq never skips one that commits late.
     */
    txId: xid8("tx_id")
      .notNull()
      .default(sql`pg_current_xact_id()`),
    /** When its deliveries were queued; null until then (an outbox: a crash before leaves it for the next dispatch). */
    dispatchedAt: moment("dispatched_at"),
  },
  (t) => [
    index("events_tenant_idx").on(t.tenantId, t.seq),
    index("events_created_idx").on(t.createdAt),
    index("events_pending_idx")
      .on(t.seq)
      .where(sql`${t.dispatchedAt} is null`),
  ],
);

/** One attempt to deliver one event to one endpoint. */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    endpointId: uuid("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    eventId: text("event_id").notNull(),
    attempt: integer("attempt").notNull(),
    outcome: text("outcome", { enum: ["delivered", "failed", "gone"] }).notNull(),
    responseStatus: integer("response_status"),
    latencyMs: integer("latency_ms").notNull(),
    error: text("error"),
    createdAt: moment("created_at").notNull().defaultNow(),
  },
  (t) => [index("webhook_deliveries_endpoint_idx").on(t.endpointId, t.createdAt, t.id)],
);

/**
 * A hosted connect page's session: a single-use link a SaaS hands its customer. Only the token's
 * SHA-256 is kept; everything else is what the page may offer and where the result goes.
 */
export const connectSessions = pgTable(
  "connect_sessions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tokenHash: text("token_hash").notNull().unique(),
    tenantId: text("tenant_id").notNull(),
    /** Integration slugs the page offers; empty means every loaded one. */
    integrations: jsonb("integrations").$type<string[]>().notNull(),
    /** Preset config per integration, applied to the connection and not editable on the page. */
    config: jsonb("config").$type<Record<string, Record<string, string>>>().notNull(),
    /** A reconnect: this connection's credentials are replaced, its id kept. */
    connectionId: uuid("connection_id").references(() => connections.id, { onDelete: "cascade" }),
    redirectUrl: text("redirect_url"),
    allowedOrigins: jsonb("allowed_origins").$type<string[]>().notNull(),
    locale: text("locale"),
    theme: jsonb("theme").$type<Record<string, string>>().notNull(),
    allowDuplicates: boolean("allow_duplicates").notNull().default(false),
    /** Submissions the vendor refused so far; the session closes at the limit. */
    attempts: integer("attempts").notNull().default(0),
    createdBy: uuid("created_by"),
    createdAt: moment("created_at").notNull().defaultNow(),
    expiresAt: moment("expires_at").notNull(),
    /** Set once, when a submission succeeded; the link then only says so. */
    usedAt: moment("used_at"),
    resultConnectionId: uuid("result_connection_id"),
    /** `created`, `existing` or `reconnected`: told again to a second submit of the same form. */
    resultOutcome: text("result_outcome"),
    /** Set while one submission is being checked with the vendor; a second one waits for it. */
    checkingSince: moment("checking_since"),
    /** The SaaS's own value, handed back unchanged with the result. */
    state: text("state"),
  },
  (t) => [index("connect_sessions_expires_idx").on(t.expiresAt)],
);

/**
 * Bearer tokens an identity provider pushes to a connection's SCIM service with: only their
 * SHA-256 is kept. A rotated-out token keeps working until `expires_at`.
 */
export const scimTokens = pgTable(
  "scim_tokens",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    connectionId: uuid("connection_id")
      .notNull()
      .references(() => connections.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull().unique(),
    createdAt: moment("created_at").notNull().defaultNow(),
    expiresAt: moment("expires_at"),
  },
  (t) => [index("scim_tokens_connection_idx").on(t.connectionId)],
);

/**
 * What identity providers pushed, as they sent it (RFC 7643 Users and Groups): the SCIM
 * service answers from here, and the unified copy (sync_records) is mapped from it. `name_key`
 * is the lower-cased userName (a User) or displayName (a Group): unique per connection, so two
 * concurrent creates of one name give one resource and one 409.
 */
export const scimResources = pgTable(
  "scim_resources",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    connectionId: uuid("connection_id")
      .notNull()
      .references(() => connections.id, { onDelete: "cascade" }),
    type: text("type", { enum: ["User", "Group"] }).notNull(),
    nameKey: text("name_key").notNull(),
    externalId: text("external_id"),
    /** The resource's attributes without id and meta, which come from the columns. */
    body: jsonb("body").$type<Record<string, unknown>>().notNull(),
    version: integer("version").notNull().default(1),
    createdAt: moment("created_at").notNull().defaultNow(),
    modifiedAt: moment("modified_at").notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("scim_resources_name_idx").on(t.connectionId, t.type, t.nameKey),
    index("scim_resources_page_idx").on(t.connectionId, t.type, t.createdAt, t.id),
    index("scim_resources_external_idx").on(t.connectionId, t.type, t.externalId),
  ],
);

/**
 * Each request an identity provider made to a push connection's SCIM service: what an admin
 * debugs a failed provisioning with. No bodies and no tokens; kept for a configurable time.
 */
export const scimRequests = pgTable(
  "scim_requests",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    connectionId: uuid("connection_id")
      .notNull()
      .references(() => connections.id, { onDelete: "cascade" }),
    at: moment("at").notNull().defaultNow(),
    method: text("method").notNull(),
    /** The path under the connection's base URL, without the query (a filter names people). */
    path: text("path").notNull(),
    status: integer("status").notNull(),
    scimType: text("scim_type"),
    /** The service's own words for a refusal (never the request's body). */
    detail: text("detail"),
    /** The resource the request read or wrote, where it names or made one. */
    resourceId: text("resource_id"),
    latencyMs: integer("latency_ms").notNull(),
  },
  (t) => [index("scim_requests_connection_idx").on(t.connectionId, t.id), index("scim_requests_at_idx").on(t.at)],
);
