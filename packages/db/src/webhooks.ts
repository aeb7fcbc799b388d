import { randomUUID } from "node:crypto";
import { and, asc, eq, inArray, isNotNull, isNull, sql } from "drizzle-orm";
import { equalsIfGiven, isUuid, type Keyset, keysetAfter, listPage, type Page, toPage } from "./paging.ts";
import { webhookDeliveries, webhookEndpoints } from "./schema.ts";
import type { Database } from "./store.ts";
import type { Vault } from "./vault.ts";
import { newSecret, rotateSecrets, type Secrets, signingSecretsAt } from "./webhook-secrets.ts";

export interface WebhookEndpoint {
  id: string;
  tenantId: string;
  url: string;
  description: string | null;
  events: string[];
  enabled: boolean;
  disabledReason: string | null;
  failingSince: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What may change on an endpoint; enabling it again also ends its failing streak. */
export interface EndpointPatch {
  url?: string | undefined;
  events?: string[] | undefined;
  description?: string | null | undefined;
  enabled?: boolean | undefined;
}

const visible = {
  id: webhookEndpoints.id,
  tenantId: webhookEndpoints.tenantId,
  url: webhookEndpoints.url,
  description: webhookEndpoints.description,
  events: webhookEndpoints.events,
  enabled: webhookEndpoints.enabled,
  disabledReason: webhookEndpoints.disabledReason,
  failingSince: webhookEndpoints.failingSince,
  createdAt: webhookEndpoints.createdAt,
  updatedAt: webhookEndpoints.updatedAt,
};

export interface Delivery {
  id: string;
  endpointId: string;
  eventId: string;
  attempt: number;
  outcome: "delivered" | "failed" | "gone";
  responseStatus: number | null;
  latencyMs: number;
  error: string | null;
  createdAt: Date;
}

export function webhookStore(db: Database, vault: Vault) {
  const seal = (id: string, secrets: Secrets) => vault.seal(id, secrets as unknown as Record<string, string>);
  return {
    /** Registers an endpoint; its secret is returned this once. */
    async create(input: { tenantId: string; url: string; events: string[]; description?: string | null }) {
      const id = randomUUID();
      const secret = newSecret();
      const [row] = await db
        .insert(webhookEndpoints)
        .values({
          id,
          tenantId: input.tenantId,
          url: input.url,
          events: input.events,
          description: input.description ?? null,
          secret: await seal(id, { secret }),
          secretKid: vault.currentKid,
        })
        .returning(visible);
      return { endpoint: row as WebhookEndpoint, secret };
    },

    async get(id: string): Promise<WebhookEndpoint | undefined> {
      if (!isUuid(id)) return undefined;
      const [row] = await db.select(visible).from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
      return row;
    },

    async list(filter: { tenantId?: string | undefined; after?: Keyset | undefined; limit: number }): Promise<Page<WebhookEndpoint>> {
      return listPage(webhookEndpoints, filter, [equalsIfGiven(webhookEndpoints.tenantId, filter.tenantId)], (q) =>
        db
          .select(visible)
          .from(webhookEndpoints)
          .where(q.where)
          .orderBy(...q.orderBy)
          .limit(q.limit),
      );
    },

    async update(id: string, patch: EndpointPatch): Promise<WebhookEndpoint | undefined> {
      if (!isUuid(id)) return undefined;
      const [row] = await db
        .update(webhookEndpoints)
        .set({
          ...(patch.url !== undefined && { url: patch.url }),
          ...(patch.events !== undefined && { events: patch.events }),
          ...(patch.description !== undefined && { description: patch.description }),
          // Enabling again starts afresh: no reason, no failing streak.
          ...(patch.enabled !== undefined && { enabled: patch.enabled, disabledReason: null, failingSince: null }),
          updatedAt: new Date(),
        })
        .where(eq(webhookEndpoints.id, id))
        .returning(visible);
      return row;
    },

    async remove(id: string): Promise<boolean> {
      if (!isUuid(id)) return false;
      return (await db.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id)).returning({ id: webhookEndpoints.id })).length > 0;
    },

    /** A new secret, returned this once; the old one keeps signing too for `overlapSeconds`. */
    async rotateSecret(id: string, overlapSeconds: number): Promise<{ secret: string; previousUntil: Date } | undefined> {
      if (!isUuid(id)) return undefined;
      const [row] = await db.select({ secret: webhookEndpoints.secret }).from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
      if (!row) return undefined;
      const old = (await vault.open(id, row.secret)) as unknown as Secrets;
      const { secrets, previousUntil } = rotateSecrets(old, overlapSeconds, Date.now());
      await db
        .update(webhookEndpoints)
        .set({
          secret: await seal(id, secrets),
          secretKid: vault.currentKid,
          updatedAt: new Date(),
        })
        .where(eq(webhookEndpoints.id, id));
      return { secret: secrets.secret, previousUntil };
    },

    /** The secrets that sign a delivery now: the current one, and the previous one during an overlap. */
    async signingSecrets(id: string): Promise<string[]> {
      const [row] = await db.select({ secret: webhookEndpoints.secret }).from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
      if (!row) return [];
      return signingSecretsAt((await vault.open(id, row.secret)) as unknown as Secrets, Date.now());
    },

    /** Enabled endpoints of a tenant that take an event type. */
    async subscribers(tenantId: string, type: string): Promise<WebhookEndpoint[]> {
      const rows = await db
        .select(visible)
        .from(webhookEndpoints)
        .where(and(eq(webhookEndpoints.tenantId, tenantId), eq(webhookEndpoints.enabled, true)));
      return rows.filter((row) => row.events.includes("*") || row.events.includes(type));
    },

    /**
     * Records an attempt, and starts or ends the endpoint's failing streak. Both updates match
     * only when the streak changes, so a run of successes writes no endpoint row.
     */
    /**
     * Records delivery attempts (a batch of them in one statement) and moves each endpoint's
     * failing streak: an endpoint with a delivered attempt among them is not failing; one whose
     * every attempt failed is failing since now, unless it was already.
     */
    async recordDeliveries(rows: Omit<Delivery, "id" | "createdAt">[]): Promise<void> {
      if (!rows.length) return;
      // One JSON parameter, not nine per row: a batch is up to thousands of attempts, and a
      // statement of that many parameters costs more to build and to plan than to run.
      const given = rows.map((row) => ({
        endpoint_id: row.endpointId,
        event_id: row.eventId,
        attempt: row.attempt,
        outcome: row.outcome,
        response_status: row.responseStatus,
        latency_ms: row.latencyMs,
        error: row.error,
      }));
      await db.execute(sql`
        insert into ${webhookDeliveries} (endpoint_id, event_id, attempt, outcome, response_status, latency_ms, error)
        select endpoint_id, event_id, attempt, outcome, response_status, latency_ms, error
        from jsonb_to_recordset(${JSON.stringify(given)}::jsonb)
          as given(endpoint_id uuid, event_id text, attempt int, outcome text, response_status int, latency_ms int, error text)`);
      const answering = new Set(rows.filter((row) => row.outcome === "delivered").map((row) => row.endpointId));
      const failing = [...new Set(rows.map((row) => row.endpointId))].filter((id) => !answering.has(id));
      if (answering.size) {
        await db
          .update(webhookEndpoints)
          .set({ failingSince: null })
          .where(and(inArray(webhookEndpoints.id, [...answering]), isNotNull(webhookEndpoints.failingSince)));
      }
      if (failing.length) {
        await db
          .update(webhookEndpoints)
          .set({ failingSince: new Date() })
          .where(and(inArray(webhookEndpoints.id, failing), isNull(webhookEndpoints.failingSince)));
      }
    },

    /** Disables an endpoint the gateway gave up on; false when it was already disabled. */
    async disable(id: string, reason: string): Promise<boolean> {
      const rows = await db
        .update(webhookEndpoints)
        .set({ enabled: false, disabledReason: reason, updatedAt: new Date() })
        .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.enabled, true)))
        .returning({ id: webhookEndpoints.id });
      return rows.length > 0;
    },

    async deliveries(filter: { endpointId: string; after?: Keyset | undefined; limit: number }): Promise<Page<Delivery>> {
      const rows = await db
        .select()
        .from(webhookDeliveries)
        .where(and(eq(webhookDeliveries.endpointId, filter.endpointId), filter.after && keysetAfter(webhookDeliveries, filter.after)))
        .orderBy(asc(webhookDeliveries.createdAt), asc(webhookDeliveries.id))
        .limit(filter.limit + 1);
      return toPage(rows as Delivery[], filter.limit);
    },

    async delivery(id: string): Promise<Delivery | undefined> {
      if (!isUuid(id)) return undefined;
      const [row] = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id));
      return row as Delivery | undefined;
    },
  };
}

export type WebhookStore = ReturnType<typeof webhookStore>;
