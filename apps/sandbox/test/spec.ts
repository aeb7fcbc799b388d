import { readFileSync } from "node:fs";
import { Ajv, type ValidateFunction } from "ajv";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse as parseYaml } from "yaml";
import { fromGoogleDiscovery, fromOpenApi30 } from "../../../test-support/api-documents.ts";

const specs = new URL("../../../docs/vendor-specs/", import.meta.url);
const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, "~0").replace(/\//g, "~1")).join("/");

/** Validators for response bodies, taken from the vendors' own specs, unedited. */
export function vendorSpecs() {
  // JumpCloud: Swagger 2.0 (JSON Schema draft-04-ish; x-* keywords ignored).
  const swagger = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  swagger.addSchema(JSON.parse(readFileSync(new URL("jumpcloud/JumpCloud.SDK.V1.json", specs), "utf8")), "jc1");
  swagger.addSchema(JSON.parse(readFileSync(new URL("jumpcloud/JumpCloud.SDK.V2.json", specs), "utf8")), "jc2");
  // Postman: OpenAPI 3.1 (JSON Schema 2020-12).
  const openapi = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  openapi.addSchema(parseYaml(readFileSync(new URL("postman/postman-scim-openapi-extracted.yml", specs), "utf8")), "pm");
  // Okta: OpenAPI 3.0.3, trimmed to the paths used; its `nullable` becomes JSON Schema's null type.
  swagger.addSchema(fromOpenApi30(parseYaml(readFileSync(new URL("okta/okta-management-trimmed.yaml", specs), "utf8")) as object), "okta");
  // Google: the Directory API's discovery document, its schemas as JSON Schema definitions.
  const discovery = JSON.parse(readFileSync(new URL("google/admin-directory-v1-trimmed.json", specs), "utf8")) as {
    schemas: Record<string, unknown>;
  };
  swagger.addSchema({ definitions: fromGoogleDiscovery(discovery) }, "google");
  // Google's error body, which the discovery document does not describe: its documented JSON error format.
  swagger.addSchema(
    {
      type: "object",
      required: ["error"],
      properties: {
        error: {
          type: "object",
          required: ["code", "message"],
          properties: {
            code: { type: "integer" },
            message: { type: "string" },
            errors: {
              type: "array",
              items: {
                type: "object",
                properties: { message: { type: "string" }, domain: { type: "string" }, reason: { type: "string" } },
              },
            },
          },
        },
      },
    },
    "google-error",
  );
  // Microsoft Graph: OpenAPI 3.0.4 from msgraph-sdk-powershell, trimmed to the directory paths used.
  // Its generator marks open types with `additionalProperties: {type: object}`, meaning "more
  // properties may follow", while Graph's own answers carry string annotations (`@odata.context`):
  // read as JSON Schema it would refuse them, so it is read as what it means, open.
  const open = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(open);
    if (!node || typeof node !== "object") return node;
    const entries = Object.entries(node).filter(
      ([key, value]) => !(key === "additionalProperties" && JSON.stringify(value) === '{"type":"object"}'),
    );
    return Object.fromEntries(entries.map(([key, value]) => [key, open(value)]));
  };
  const graph = open(fromOpenApi30(parseYaml(readFileSync(new URL("microsoft-graph/graph-directory-trimmed.yaml", specs), "utf8")))) as {
    paths: Record<string, Record<string, { responses: Record<string, { $ref?: string; content?: unknown }> }>>;
    components: { responses: Record<string, { content?: unknown }> };
  };
  swagger.addSchema(graph, "graph");
  const cache = new Map<string, ValidateFunction>();

  function validator(ajv: Ajv | Ajv2020, ref: string): ValidateFunction {
    let validate = cache.get(ref);
    if (!validate) {
      validate = ajv.compile({ $ref: ref });
      cache.set(ref, validate);
    }
    return validate;
  }

  const check = (validate: ValidateFunction, body: unknown) =>
    validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);

  return {
    /** Errors of a JumpCloud body against `path`/`method`/`status` of the v1 or v2 spec ([] when valid). */
    jumpcloud(version: 1 | 2, path: string, method: string, status: number, body: unknown): string[] {
      return check(validator(swagger, `jc${version}#/${pointer("paths", path, method, "responses", String(status), "schema")}`), body);
    },
    okta(path: string, method: string, status: number, body: unknown): string[] {
      return check(
        validator(swagger, `okta#/${pointer("paths", path, method, "responses", String(status), "content", "application/json", "schema")}`),
        body,
      );
    },
    /** Errors of a body against Okta's Error schema, which every Okta error answer uses. */
    oktaError(body: unknown): string[] {
      return check(validator(swagger, "okta#/components/schemas/Error"), body);
    },
    /** Errors of a body against one of the Directory API's schemas (`User`, `Users`, `Groups`, …). */
    google(schema: string, body: unknown): string[] {
      return check(validator(swagger, `google#/definitions/${schema}`), body);
    },
    googleError(body: unknown): string[] {
      return check(validator(swagger, "google-error"), body);
    },
    /**
     * Errors of a Graph body against the 2XX answer of `path`/`method`, or against `default` (the
     * error body) for a failure. Graph's answers are often shared responses (`$ref` to
     * components/responses), followed here to their schema.
     */
    graph(path: string, method: string, status: number, body: unknown): string[] {
      const key = status < 300 ? "2XX" : "default";
      const response = graph.paths[path]?.[method]?.responses[key];
      if (!response) throw new Error(`no ${key} answer for ${method} ${path} in the Graph document`);
      const shared = response.$ref?.replace("#/components/responses/", "");
      const where = shared ? pointer("components", "responses", shared) : pointer("paths", path, method, "responses", key);
      return check(validator(swagger, `graph#/${where}/${pointer("content", "application/json", "schema")}`), body);
    },
    postman(path: string, method: string, status: number, body: unknown): string[] {
      return check(
        validator(openapi, `pm#/${pointer("paths", path, method, "responses", String(status), "content", "application/json", "schema")}`),
        body,
      );
    },
  };
}
