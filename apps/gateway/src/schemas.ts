import { z } from "@hono/zod-openapi";
import { errorStatus } from "./errors.ts";

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(errorStatus) as [keyof typeof errorStatus, ...(keyof typeof errorStatus)[]]),
      message: z.string(),
      status: z.number().int(),
      request_id: z.string(),
      details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
      upstream: z.object({ status: z.number().int(), body: z.unknown() }).optional(),
    }),
  })
  .openapi("Error");

const errorResponse = (description: string) => ({ description, content: { "application/json": { schema: ErrorSchema } } });

/** The error responses every authenticated route can give. */
export const commonErrors = {
  400: errorResponse("Invalid request"),
  401: errorResponse("No, unknown or revoked API key"),
  403: errorResponse("The API key lacks the scope"),
  404: errorResponse("Not found"),
  413: errorResponse("Body over 1 MB"),
  500: errorResponse("Internal error"),
} as const;

export const upstreamErrors = {
  502: errorResponse("The upstream failed or rejected the credentials"),
  504: errorResponse("The upstream did not answer in time"),
} as const;

const EARLIEST = Date.parse("0001-01-01T00:00:00Z");
const LATEST = Date.parse("9999-12-31T23:59:59.999Z");

/**
 * A point in time in a query: ISO-8601 with a zone, within years 0001 to 9999 once in UTC (the
 * database has no year 0, and a vendor filter takes four-digit years).
 */
export const instant = z.iso
  .datetime({ offset: true })
  .refine((value) => {
    const ms = Date.parse(value);
    return ms >= EARLIEST && ms <= LATEST;
  }, "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z")
  .openapi({ description: "ISO-8601 with a zone (Z or ±hh:mm), between years 0001 and 9999 in UTC." });

/** The tenant a tenant-scoped create acts for (webhook endpoints, connect sessions). */
export const tenantOfKey = z
  .string()
  .min(1)
  .max(200)
  .optional()
  .openapi({ description: "Required with an admin key; a tenant-bound key uses its own." });

/** A list's page size and cursor, the same on every list. */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ description: "Page size, 1–200." }),
  cursor: z.string().max(4096).optional().openapi({ description: "The previous page's `next_cursor`." }),
};

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

export const listOf = <T extends z.ZodType>(item: T) =>
  z.object({ result: z.array(item), next_cursor: z.string().nullable(), result_count: z.number().int() });

const pages = new Map<z.ZodType, z.ZodType>();
/** A page of one unified model (`UserPage`, …), made once per model so OpenAPI names it once. */
export function pageOf(item: z.ZodType, name: string): z.ZodType {
  let page = pages.get(item);
  if (!page) pages.set(item, (page = listOf(item).openapi(`${name}Page`)));
  return page;
}

export const IdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(200)
    .openapi({ param: { name: "id", in: "path" } }),
});

/** One event, as a webhook body and in the event log. */
export const EventSchema = z
  .object({
    id: z.string().openapi({ description: "Stable across retries: the `webhook-id` header." }),
    type: z.string(),
    created_at: z.string(),
    tenant_id: z.string(),
    connection_id: z.string().nullable(),
    integration: z.string().nullable(),
    version: z.number().int().nullable().openapi({ description: "Increases per record: drop an event older than what you hold." }),
    data: z.record(z.string(), z.unknown()),
  })
  .openapi("Event");
