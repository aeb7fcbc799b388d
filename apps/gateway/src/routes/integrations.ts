import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Integration, PushIntegration } from "@unifold/engine";
import { requireScope } from "../middleware/auth.ts";
import { commonErrors, json } from "../schemas.ts";
import type { AppEnv } from "../http/env.ts";

const FieldSchema = z.object({
  name: z.string(),
  label: z.string(),
  description: z.string().nullable(),
  required: z.boolean(),
  help_url: z.string().nullable().openapi({ description: "Where the vendor shows the value." }),
  pattern: z.string().nullable().openapi({ description: "A regular expression (HTML `pattern` syntax) the whole value matches." }),
  placeholder: z.string().nullable(),
});

const IntegrationSchema = z
  .object({
    slug: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    direction: z.enum(["pull", "push"]).openapi({
      description:
        "`pull`: read through the vendor's API with the connection's credentials; `push`: an identity provider provisions it over SCIM.",
    }),
    default_base_url: z.string().nullable().openapi({ description: "The vendor's API address; null for a directory that pushes." }),
    credential_fields: z.array(FieldSchema),
    config_fields: z.array(FieldSchema),
    resources: z
      .record(z.string(), z.array(z.string()))
      .openapi({ description: "Per unified resource, the methods this integration supports." }),
    proxy_resources: z.array(z.string()),
  })
  .openapi("Integration");

export function registerIntegrations(app: OpenAPIHono<AppEnv>) {
  app.openapi(
    createRoute({
      method: "get",
      path: "/integrations",
      tags: ["Integrations"],
      summary: "List integrations (those loaded from mappings/)",
      middleware: [requireScope("api")],
      responses: { 200: json(z.object({ result: z.array(IntegrationSchema) }), "Every loaded integration"), ...commonErrors },
    }),
    (c) => {
      const { connections, scim } = c.get("services");
      return c.json(
        { result: [...[...connections.integrations.values()].map(present), ...[...scim.integrations.values()].map(presentPushed)] },
        200,
      );
    },
  );
}

function fields(declared: Integration["credentials"]) {
  return Object.entries(declared).map(([name, f]) => ({
    name,
    label: f.label,
    description: f.description ?? null,
    required: f.required,
    help_url: f.help_url ?? null,
    pattern: f.pattern ?? null,
    placeholder: f.placeholder ?? null,
  }));
}

function present(integration: Integration): z.infer<typeof IntegrationSchema> {
  return {
    slug: integration.slug,
    name: integration.name,
    description: integration.description ?? null,
    direction: "pull",
    default_base_url: integration.base_url,
    credential_fields: fields(integration.credentials),
    config_fields: fields(integration.config),
    resources: Object.fromEntries(Object.entries(integration.resources).map(([name, operations]) => [name, Object.keys(operations ?? {})])),
    proxy_resources: Object.keys(integration.proxy),
  };
}

function presentPushed(integration: PushIntegration): z.infer<typeof IntegrationSchema> {
  return {
    slug: integration.slug,
    name: integration.name,
    description: integration.description ?? null,
    direction: "push",
    default_base_url: null,
    credential_fields: [],
    config_fields: [],
    resources: Object.fromEntries(Object.keys(integration.resources).map((name) => [name, ["list", "get"]])),
    proxy_resources: [],
  };
}
