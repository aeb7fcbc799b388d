import { z } from "zod";

/** A field an admin fills in when registering a connection. */
const field = z
  .object({
    label: z.string().min(1),
    description: z.string().optional(),
    required: z.boolean().default(true),
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

export const integrationDefinition = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    base_url: z.url({ protocol: /^https?$/ }),
    credentials: z.record(fieldName, field).refine((f) => Object.keys(f).length > 0, "at least one credential field"),
    config: z.record(fieldName, field).default({}),
    /** Headers sent on every upstream call; values are templates over `credentials` and `config`. */
    auth: z.object({ headers: z.record(z.string(), z.string()) }).strict(),
    /** Static headers sent on every call (e.g. Accept). */
    headers: z.record(z.string(), z.string()).default({}),
    /** One cheap call that succeeds only with valid credentials. */
    verify: requestTemplate,
  })
  .strict();

export type IntegrationDefinition = z.infer<typeof integrationDefinition>;
export type RequestTemplate = z.infer<typeof requestTemplate>;

export interface Integration extends IntegrationDefinition {
  slug: string;
  /** The folder it was loaded from, for error messages. */
  dir: string;
}
