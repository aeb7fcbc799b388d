/**
 * An OpenAPI 3.0 document's schemas as JSON Schema: `nullable: true` becomes a type (or enum)
 * that also allows null, which validators and generators of JSON Schema do not read otherwise.
 * OpenAPI 3.1 documents need none of this.
 */
export function fromOpenApi30<T>(node: T): T {
  return convert(node) as T;
}

function convert(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(convert);
  if (!node || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = convert(value);
  if (out.nullable !== true) return out;
  delete out.nullable;
  if (typeof out.type === "string") out.type = [out.type, "null"];
  if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
  return out.$ref || out.allOf || out.anyOf || out.oneOf ? { anyOf: [{ type: "null" }, out] } : out;
}

/**
 * A Google API discovery document's `schemas` as JSON Schema definitions: `$ref: "User"` points
 * at `#/definitions/User`, and discovery's `type: "any"` (a value of any type) has no type.
 * Validate against `{ $ref: "#/definitions/<Name>", definitions }`.
 */
export function fromGoogleDiscovery(doc: { schemas: Record<string, unknown> }): Record<string, unknown> {
  const convert = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(convert);
    if (!node || typeof node !== "object") return node;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && typeof value === "string") out.$ref = `#/definitions/${value}`;
      else if (key === "type" && value === "any") continue;
      // A schema's own name (`id: "User"`): JSON Schema would read it as the schema's address.
      else if (key === "id" && typeof value === "string" && "type" in node && !("location" in node)) continue;
      // Discovery's `required: true` on a property and its `annotations` are not JSON Schema's.
      else if (
        (key === "required" && typeof value === "boolean") ||
        (key === "annotations" && !Array.isArray(value) && value && typeof value === "object" && "required" in value)
      )
        continue;
      else out[key] = convert(value);
    }
    return out;
  };
  return convert(doc.schemas) as Record<string, unknown>;
}
