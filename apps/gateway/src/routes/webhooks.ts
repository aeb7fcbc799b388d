import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { Deleted } from "@unifold/engine";
import { presentDelivery, presentEndpoint } from "../domain/webhooks/index.ts";
import { eventTypes, presentEvent } from "../domain/events/index.ts";
import { Failure } from "../domain/failure.ts";
import { type AppEnv, callerOf } from "../http/env.ts";
import { listEnvelope } from "../http/envelope.ts";
import { requireScope } from "../middleware/auth.ts";
import { commonErrors, EventSchema, IdParam, json, listOf, pageQuery, tenantOfKey } from "../schemas.ts";

const EventType = z.enum(["*", ...eventTypes]).openapi({ description: "An event type, or `*` for all." });

const EndpointSchema = z
  .object({
    id: z.string().uuid(),
    tenant_id: z.string(),
    url: z.string(),
    description: z.string().nullable(),
    events: z.array(z.string()),
    enabled: z.boolean(),
    disabled_reason: z.string().nullable(),
    failing_since: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("WebhookEndpoint");

const WithSecret = EndpointSchema.extend({
  secret: z.string().openapi({ description: "The `whsec_` signing secret, shown this once." }),
}).openapi("CreatedWebhookEndpoint");

const DeliverySchema = z
  .object({
    id: z.string().uuid(),
    endpoint_id: z.string().uuid(),
    event_id: z.string(),
    attempt: z.number().int(),
    outcome: z.enum(["delivered", "failed", "gone"]),
    response_status: z.number().int().nullable(),
    latency_ms: z.number().int(),
    error: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi("WebhookDelivery");

const url = z
  .string()
  .url()
  .max(2048)
  .refine((u) => /^https?:\/\//i.test(u), "must be an http or https URL");

const CreateBody = z
  .object({
    url,
    events: z.array(EventType).min(1),
    description: z.string().max(500).optional(),
    tenant_id: tenantOfKey,
  })
  .strict()
  .openapi("CreateWebhookEndpoint");

const PatchBody = z
  .object({
    url: url.optional(),
    events: z.array(EventType).min(1).optional(),
    description: z.string().max(500).nullable().optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .openapi("PatchWebhookEndpoint");

const overlap = (number: z.ZodNumber) =>
  number
    .int()
    .min(0)
    .max(7 * 86_400)
    .openapi({ description: "How long the old secret keeps signing too, in seconds (0 to 604800; default 86400)." });
const overlapSeconds = overlap(z.number());

const RotateBody = z.object({ overlap_seconds: overlapSeconds.optional() }).strict().openapi("RotateWebhookSecret");

const RotatedSecret = z
  .object({
    secret: z.string().openapi({ description: "The new `whsec_` secret, shown this once." }),
    previous_secret_expires_at: z.string().openapi({ description: "When the old secret stops signing (now, for an overlap of 0)." }),
  })
  .openapi("RotatedWebhookSecret");

const api = [requireScope("api")];

export function registerWebhooks(app: OpenAPIHono<AppEnv>) {
  app.openapi(
    createRoute({
      method: "post",
      path: "/webhook-endpoints",
      tags: ["Webhooks"],
      summary: "Register an endpoint for change events (its signing secret is shown once)",
      middleware: api,
      request: { body: { content: { "application/json": { schema: CreateBody } }, required: true } },
      responses: { 201: json(WithSecret, "The endpoint and its secret"), ...commonErrors },
    }),
    async (c) => {
      const made = await c.get("services").webhooks.create(callerOf(c), c.req.valid("json"));
      return c.json({ ...presentEndpoint(made.endpoint), secret: made.secret }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/webhook-endpoints",
      tags: ["Webhooks"],
      summary: "List endpoints",
      middleware: api,
      request: { query: z.object(pageQuery) },
      responses: { 200: json(listOf(EndpointSchema), "A page of endpoints"), ...commonErrors },
    }),
    async (c) => {
      const page = await c.get("services").webhooks.list(callerOf(c), c.req.valid("query"));
      return c.json(listEnvelope(page.rows.map(presentEndpoint), page.next_cursor), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/webhook-endpoints/{id}",
      tags: ["Webhooks"],
      summary: "Get an endpoint",
      middleware: api,
      request: { params: IdParam },
      responses: { 200: json(EndpointSchema, "The endpoint"), ...commonErrors },
    }),
    async (c) => c.json(presentEndpoint(await c.get("services").webhooks.find(callerOf(c), c.req.valid("param").id)), 200),
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/webhook-endpoints/{id}",
      tags: ["Webhooks"],
      summary: "Change an endpoint's URL, events or description, or enable/disable it",
      middleware: api,
      request: { params: IdParam, body: { content: { "application/json": { schema: PatchBody } }, required: true } },
      responses: { 200: json(EndpointSchema, "The endpoint"), ...commonErrors },
    }),
    async (c) =>
      c.json(presentEndpoint(await c.get("services").webhooks.patch(callerOf(c), c.req.valid("param").id, c.req.valid("json"))), 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/webhook-endpoints/{id}",
      tags: ["Webhooks"],
      summary: "Delete an endpoint",
      middleware: api,
      request: { params: IdParam },
      responses: { 200: json(Deleted, "Deleted"), ...commonErrors },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await c.get("services").webhooks.remove(callerOf(c), id);
      return c.json({ id, outcome: "deleted" as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/webhook-endpoints/{id}/rotate-secret",
      tags: ["Webhooks"],
      summary: "Rotate an endpoint's signing secret",
      description:
        "A new secret, shown once. The old one also signs for `overlap_seconds` (default 24 h; 0 retires it at once), " +
        "and `previous_secret_expires_at` says when it stops.",
      middleware: api,
      request: {
        params: IdParam,
        // Older clients sent the overlap in the query; the body is the documented place.
        query: z.object({ overlap_seconds: overlap(z.coerce.number()).optional() }),
        body: { content: { "application/json": { schema: RotateBody } }, required: false },
      },
      responses: { 200: json(RotatedSecret, "The new secret, shown once"), ...commonErrors },
    }),
    async (c) => {
      const fromBody = c.req.valid("json")?.overlap_seconds;
      const fromQuery = c.req.valid("query").overlap_seconds;
      if (fromBody !== undefined && fromQuery !== undefined && fromBody !== fromQuery) {
        throw new Failure("invalid_request", "overlap_seconds: given twice, in the body and in the query, with different values", {
          details: [{ path: "overlap_seconds", message: "given in the body and the query with different values" }],
        });
      }
      const rotated = await c.get("services").webhooks.rotateSecret(callerOf(c), c.req.valid("param").id, fromBody ?? fromQuery ?? 86_400);
      return c.json({ secret: rotated.secret, previous_secret_expires_at: rotated.previousUntil.toISOString() }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/webhook-endpoints/{id}/test",
      tags: ["Webhooks"],
      summary: "Send a signed `webhook_endpoint.test` event to this endpoint",
      middleware: api,
      request: { params: IdParam },
      responses: { 202: json(EventSchema, "The event queued for delivery"), ...commonErrors },
    }),
    async (c) => c.json(presentEvent(await c.get("services").webhooks.test(callerOf(c), c.req.valid("param").id)), 202),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/webhook-endpoints/{id}/deliveries",
      tags: ["Webhooks"],
      summary: "List an endpoint's delivery attempts, oldest first",
      middleware: api,
      request: { params: IdParam, query: z.object(pageQuery) },
      responses: { 200: json(listOf(DeliverySchema), "A page of attempts"), ...commonErrors },
    }),
    async (c) => {
      const page = await c.get("services").webhooks.deliveries(callerOf(c), c.req.valid("param").id, c.req.valid("query"));
      return c.json(listEnvelope(page.rows.map(presentDelivery), page.next_cursor), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/webhook-endpoints/{id}/deliveries/{delivery_id}/replay",
      tags: ["Webhooks"],
      summary: "Send a delivery's event again",
      middleware: api,
      request: { params: IdParam.extend({ delivery_id: z.string().min(1).max(200) }) },
      responses: { 202: json(z.object({ queued: z.literal(true) }), "Queued"), ...commonErrors },
    }),
    async (c) => {
      const { id, delivery_id } = c.req.valid("param");
      await c.get("services").webhooks.replay(callerOf(c), id, delivery_id);
      return c.json({ queued: true as const }, 202);
    },
  );
}
