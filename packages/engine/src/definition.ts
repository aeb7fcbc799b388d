import type { Mapping } from "@unifold/mapping";
import { z } from "zod";
import { tokenGrant } from "./access-tokens.ts";
import { bodyPath, paginationStyle } from "./pagination/styles.ts";

/**
 * A field an admin, or a customer on the connect page, fills in when registering a connection.
 * `description` is the help text, `help_url` says where the vendor shows the value, and
 * `pattern` (a JavaScript regular expression the whole value must match) catches a pasted typo
 * before the vendor is asked.
 */
const field = z
  .object({
    label: z.string().min(1),
    description: z.string().optional(),
    help_url: z.url({ protocol: /^https?$/ }).optional(),
    pattern: z
      .string()
      .refine((source) => {
        try {
          new RegExp(source, "v");
          return true;
        } catch {
          return false;
        }
      }, "must be a valid regular expression")
      .optional(),
    placeholder: z.string().optional(),
    required: z.boolean().default(true),
    /** The connect page's words in other languages, by locale (`de`, `fr`): English stays the default. */
    translations: z
      .record(
        z.string().regex(/^[a-z]{2}$/, "a two-letter language code"),
        z.object({ label: z.string().min(1).optional(), description: z.string().optional(), placeholder: z.string().optional() }).strict(),
      )
      .default({}),
  })
  .strict();

const fieldName = z.string().regex(/^[a-z][a-z0-9_]*$/, "field names are snake_case");
const httpMethod = z.enum(["GET", "POST", "PUT", "PATCH", "DELETE"]);

/** One templated request against the connection's base URL. */
export const requestTemplate = z
  .object({
    method: httpMethod.default("GET"),
    path: z.string().startsWith("/"),
    query: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export const unifiedResources = [
  "users",
  "me",
  "groups",
  "group_members",
  "organizations",
  "roles",
  "employees",
  "companies",
  "hris_groups",
] as const;
export type UnifiedResource = (typeof unifiedResources)[number];
export const unifiedFilters = ["email", "username", "status", "name", "updated_after"] as const;
export type UnifiedFilter = (typeof unifiedFilters)[number];

const mappingFiles = z.union([z.string(), z.array(z.string()).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]));

/** One unified operation: the upstream request and the JSONata files that map it. */
export const operationDefinition = z
  .object({
    method: httpMethod.default("GET"),
    /** `{{id}}` is the unified id from the URL. */
    path: z.string().startsWith("/"),
    query: z.record(z.string(), z.string()).default({}),
    /** A style from `pagination`; absent means the upstream answers everything at once. */
    pagination: z.string().optional(),
    /** Where the records sit in an unpaged answer (e.g. a group's `members`); `$`: the answer is the one record. */
    records: z.string().optional(),
    /** Unified filters this operation can push upstream; any other is refused with filter_not_supported. */
    filters: z.array(z.enum(unifiedFilters)).default([]),
    /** JSONata over `{filters}` → `{query?, unsupported?}`. */
    query_mapping: z.string().optional(),
    /** The upstream cannot page a filtered list: fetch once, page in the gateway. */
    unpaged_when_filtered: z.boolean().default(false),
    /** JSONata file(s) mapping one upstream record; several are merged in order. */
    response_mapping: mappingFiles,
  })
  .strict();

/** Unified fields a write body may carry (the contract's model, less what only the vendor sets). */
export const writableUserFields = [
  "external_id",
  "username",
  "first_name",
  "last_name",
  "title",
  "emails",
  "phones",
  "status",
  "department",
  "manager_id",
  "employee_number",
  "addresses",
] as const;
export const writableGroupFields = ["name", "description"] as const;
export const writableMemberFields = ["user_id"] as const;

/**
 * One unified write: a JSONata request mapping over `{id, data}` that plans the
 * upstream calls, so each vendor's lifecycle (deactivate-then-delete, narrow PATCH shapes) is
 * data in `mappings/`, not code. The plan is `{calls: [{method, path, body?}], outcome?}`.
 */
export const writeOperation = z
  .object({
    request_mapping: z.string(),
    /** Maps the record the last call answered with (or the one read back). Absent when nothing is returned. */
    response_mapping: mappingFiles.optional(),
    /** Unified fields this vendor can set here; any other field is refused with a 400 naming it. */
    fields: z.array(z.string()).default([]),
    /** Fields a create must carry. */
    required: z.array(z.string()).default([]),
    /** Read the record back with `get` after the calls (when the vendor's answer lacks fields). */
    refetch: z.boolean().default(false),
  })
  .strict();

/**
 * How a sync reads only what changed since its last run, where the vendor offers a way:
 * - `since_filter`: the list, filtered by `updated_after` from when the last complete run
 *   started (less a margin for clocks that disagree). Deletions do not show: a periodic full
 *   walk finds them.
 * - a delta query: a list whose last page carries a link (`delta_link`) that later answers only
 *   the records changed since, the deleted among them marked (`removed`). Without a link it
 *   answers every record, so a full walk is a first delta round too.
 */
export const deltaDefinition = z.union([
  z.object({ since_filter: z.literal("updated_after") }).strict(),
  operationDefinition
    .omit({ filters: true, query_mapping: true, unpaged_when_filtered: true })
    .extend({
      /** Where the last page holds the link of the next round. */
      delta_link: bodyPath,
      /** A record holding this property is one deleted upstream. */
      removed: bodyPath,
    })
    .strict(),
]);
export type DeltaDefinition = z.infer<typeof deltaDefinition>;
export type DeltaQuery = Exclude<DeltaDefinition, { since_filter: string }>;

export const writeKinds = ["create", "update", "delete"] as const;
export type WriteKind = (typeof writeKinds)[number];

const resourceOperations = z
  .object({
    list: operationDefinition.optional(),
    get: operationDefinition.optional(),
    create: writeOperation.optional(),
    update: writeOperation.optional(),
    delete: writeOperation.optional(),
    delta: deltaDefinition.optional(),
  })
  .strict();

/** How a vendor takes many writes in one request: SCIM /Bulk (RFC 7644 §3.7). */
export const batchDefinition = z
  .object({
    style: z.literal("scim_bulk"),
    path: z.string().startsWith("/"),
    max_operations: z.number().int().positive(),
    max_bytes: z.number().int().positive(),
  })
  .strict();

export const proxyResource = z
  .object({
    path: z.string().startsWith("/"),
    pagination: z.string().optional(),
    records: z.string().optional(),
  })
  .strict();

/** The description in other languages, for the connect page (see a field's `translations`). */
const descriptionTranslations = z
  .record(z.string().regex(/^[a-z]{2}$/, "a two-letter language code"), z.object({ description: z.string() }).strict())
  .default({});

/**
 * The vendor's values for a unified field, translated to the model's (`phones.type`:
 * `{workofficephone: work}`), keyed by the field's path in the unified object. A value not
 * listed is checked against the model as it is, and answered as null when off-model.
 */
const valueTables = z
  .record(z.string().regex(/^[a-z_]+(\.[a-z_]+)*$/, "a unified field path such as phones.type"), z.record(z.string(), z.string()))
  .default({});

export const integrationDefinition = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    translations: descriptionTranslations,
    base_url: z.url({ protocol: /^https?$/ }),
    credentials: z.record(fieldName, field).refine((f) => Object.keys(f).length > 0, "at least one credential field"),
    config: z.record(fieldName, field).default({}),
    /**
     * Headers sent on every upstream call; values are templates over `credentials` and `config`,
     * and `{{token}}`, the access token `token` gets from the vendor's token endpoint (OAuth 2.0
     * client credentials, `private_key_jwt`, or the JWT-bearer grant; access-tokens.ts).
     */
    auth: z.object({ headers: z.record(z.string(), z.string()), token: tokenGrant.optional() }).strict(),
    /** Static headers sent on every call (e.g. Accept). */
    headers: z.record(z.string(), z.string()).default({}),
    /**
     * One cheap call that succeeds only with valid credentials. `account` (JSONata over its
     * response body) names the upstream account the credentials open, so linking one account
     * twice finds the connection already made. `refused` lists the statuses that mean "these
     * credentials are wrong"; any other failure says nothing about them (the vendor is down, rate
     * limiting, or the base URL is wrong).
     */
    verify: requestTemplate
      .extend({
        account: z.string().optional(),
        refused: z.array(z.number().int().min(400).max(499)).min(1).default([401, 403]),
      })
      .strict(),
    pagination: z.record(z.string(), paginationStyle).default({}),
    resources: z.partialRecord(z.enum(unifiedResources), resourceOperations).default({}),
    /** Content type of write bodies (SCIM vendors want application/scim+json). */
    write_content_type: z.string().default("application/json"),
    batch: batchDefinition.optional(),
    values: valueTables,
    /**
     * The simulator in apps/sandbox that stands in for this vendor: the demo and the tests connect
     * to it. It changes nothing in the gateway.
     */
    sandbox: z.string().optional(),
    /** The vendor's own resources, served 1-to-1 under /proxy/{name}. */
    proxy: z.record(z.string().regex(/^[A-Za-z][\w-]*$/), proxyResource).default({}),
    errors: z
      .object({
        message: z.string().describe("JSONata over the upstream error body giving its message"),
        /**
         * JSONata over an error body, true when the answer means "slow down" although its status
         * is not 429 (a quota answered 403): it is then retried and reported as a 429 would be.
         */
        throttled: z.string().optional(),
      })
      .strict()
      .optional(),
    /** The vendor's published rate per API key; each connection is paced within it. */
    rate_limit: z.object({ requests: z.number().int().positive(), per_seconds: z.number().positive() }).strict().optional(),
    /**
     * Upstream headers carrying rate-limit state, passed on as ratelimit-* (the reset in seconds
     * from now, whatever the vendor sends). `reset_format: epoch_seconds` when the vendor's reset
     * header is the Unix time the window ends (an X-Rate-Limit-Reset, say); a 429 with no
     * Retry-After is then waited out until that time, as it would be with Retry-After.
     */
    rate_limit_headers: z
      .object({
        limit: z.string().optional(),
        remaining: z.string().optional(),
        reset: z.string().optional(),
        reset_format: z.enum(["delta_seconds", "epoch_seconds"]).default("delta_seconds"),
      })
      .strict()
      .optional(),
  })
  .strict();

/**
 * A directory that pushes: identity providers provision into the gateway's own SCIM 2.0 service
 * instead of being read through their API. What they push is kept as they sent it; `resources`
 * names, per unified resource, the JSONata that maps one pushed resource to the unified model
 * (held to it like every mapping). There is no base URL, credential or verify call: the gateway
 * issues the provider a token.
 */
export const pushIntegrationDefinition = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    translations: descriptionTranslations,
    direction: z.literal("push"),
    /** The protocol providers push with; SCIM 2.0 (RFC 7643/7644) is the one served. */
    protocol: z.literal("scim"),
    resources: z
      .object({
        users: z.object({ mapping: mappingFiles }).strict(),
        groups: z.object({ mapping: mappingFiles }).strict(),
        /** One member of a pushed group (`{value, display, type}`) with the group's id as `group_id`. */
        group_members: z.object({ mapping: mappingFiles }).strict(),
      })
      .strict(),
    values: valueTables,
    /**
     * Short set-up steps per identity provider, shown by the connect page beside the new
     * connection's base URL and token; `translations: {de: {steps}}` per provider.
     */
    setup: z
      .array(
        z
          .object({
            provider: z.string().min(1),
            steps: z.array(z.string().min(1)).min(1),
            translations: z
              .record(
                z.string().regex(/^[a-z]{2}$/, "a two-letter language code"),
                z.object({ steps: z.array(z.string().min(1)).min(1) }).strict(),
              )
              .default({}),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

export type PushIntegrationDefinition = z.infer<typeof pushIntegrationDefinition>;
export type PushResource = keyof PushIntegrationDefinition["resources"];

export interface PushIntegration extends PushIntegrationDefinition {
  slug: string;
  dir: string;
  mappings: ReadonlyMap<string, Mapping>;
}

/** What mapping a record needs of an integration, pulled or pushed: its compiled files and value tables. */
export type MappedIntegration = Pick<Integration, "slug" | "mappings" | "values">;

export type IntegrationDefinition = z.infer<typeof integrationDefinition>;
export type RequestTemplate = z.infer<typeof requestTemplate>;

export type OperationDefinition = z.infer<typeof operationDefinition>;
export type WriteOperation = z.infer<typeof writeOperation>;
export type BatchDefinition = z.infer<typeof batchDefinition>;

export interface Integration extends IntegrationDefinition {
  slug: string;
  /** The folder it was loaded from, for error messages. */
  dir: string;
  /** Every JSONata file the definition names, compiled once at load. */
  mappings: ReadonlyMap<string, Mapping>;
  errorMessage?: Mapping | undefined;
  /** The compiled `errors.throttled`, when the integration names one. */
  throttledBy?: Mapping | undefined;
  /** The compiled `verify.account`, when the integration names one. */
  accountOf?: Mapping | undefined;
}
