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
