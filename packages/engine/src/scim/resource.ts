import { isDeepStrictEqual } from "node:util";
import { instantOf, isUnassigned, readCaseInsensitive } from "./filter.ts";
import { ScimProblem } from "./problem.ts";
import { COMMON_ATTRIBUTES, findAttribute, findSchema, type AttributeDefinition, type ScimResourceType } from "./schemas.ts";

/** A SCIM resource as JSON: attribute names in the schema's case, values as the client sent them. */
export type ScimResource = Record<string, unknown>;

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Writes `name` in its canonical case, dropping any other spelling of it. */
export function writeKey(record: Record<string, unknown>, name: string, value: unknown): void {
  if (!Object.hasOwn(record, name)) deleteKey(record, name);
  record[name] = value;
}

export function deleteKey(record: Record<string, unknown>, name: string): void {
  const lower = name.toLowerCase();
  for (const key of Object.keys(record)) if (key.toLowerCase() === lower) delete record[key];
}

/**
 * One value for an attribute that is not multi-valued (or one element of one that is), checked
 * against its type and stored as sent. Returns null for "" and null: the caller clears.
 * In a complex value, a sub-attribute set to null or "" stays null so a merge can clear it.
 */
export function coerceValue(value: unknown, attribute: AttributeDefinition): unknown {
  if (value === null || value === "") return null;
  const refuse = (expected: string): never => {
    throw new ScimProblem("invalidValue", `'${attribute.name}' takes ${expected}, not ${JSON.stringify(value)}`);
  };
  switch (attribute.type) {
    case "boolean":
      if (typeof value === "boolean") return value;
      // One identity provider's default job sends "True"/"False" as strings; only a boolean attribute turns them into booleans.
      if (typeof value === "string" && /^(true|false)$/i.test(value)) return value.toLowerCase() === "true";
      return refuse("a boolean");
    case "integer":
      return Number.isInteger(value) ? value : refuse("an integer");
    case "decimal":
      return typeof value === "number" && Number.isFinite(value) ? value : refuse("a number");
    case "dateTime":
      return typeof value === "string" && !Number.isNaN(instantOf(value)) ? value : refuse("an xsd:dateTime such as 2024-05-13T04:42:34Z");
    case "complex": {
      const subAttributes = attribute.subAttributes ?? [];
      // One identity provider's tutorial adds the manager as a one-element list: for a single-valued attribute, that element.
      if (!attribute.multiValued && Array.isArray(value) && value.length === 1) return coerceValue(value[0], attribute);
      // One identity provider sets the enterprise manager as a bare id string: that is the manager's `value`.
      if (typeof value === "string" && findAttribute(subAttributes, "value")) return { value };
      if (!isRecord(value)) return refuse("an object of sub-attributes");
      const element: Record<string, unknown> = {};
      for (const [key, subValue] of Object.entries(value)) {
        const sub = findAttribute(subAttributes, key);
        if (!sub) throw new ScimProblem("invalidValue", `'${attribute.name}' has no sub-attribute '${key}'`);
        // RFC 7643 §2.2: a readOnly value in a request is ignored, not refused.
        if (sub.mutability === "readOnly") continue;
        element[sub.name] = coerceValue(subValue, sub);
      }
      return element;
    }
    default:
      return typeof value === "string" ? value : refuse("a string");
  }
}

/** A complex element without its null (clearing) sub-attributes. */
export function withoutNulls(element: unknown): unknown {
  if (!isRecord(element)) return element;
  return Object.fromEntries(Object.entries(element).filter(([, value]) => !isUnassigned(value)));
}

/** The elements of a multi-valued attribute as they will be stored: checked, unassigned ones left out. */
export function coerceValues(value: unknown, attribute: AttributeDefinition): unknown[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((item) => withoutNulls(coerceValue(item, attribute))).filter((item) => !isUnassigned(item));
}

/**
 * Whether two elements of a multi-valued attribute are the same entry: the same `value` (and
 * `type` when both carry one), so adding a member twice merges rather than duplicates.
 */
export function sameElement(a: unknown, b: unknown, attribute: AttributeDefinition): boolean {
  const valueAttribute = findAttribute(attribute.subAttributes ?? [], "value");
  if (!valueAttribute || !isRecord(a) || !isRecord(b)) return isDeepStrictEqual(a, b);
  const [va, vb] = [readCaseInsensitive(a, "value"), readCaseInsensitive(b, "value")];
  if (isUnassigned(va) || isUnassigned(vb)) return isDeepStrictEqual(a, b);
  const equal = (x: unknown, y: unknown, caseExact: boolean) =>
    typeof x === "string" && typeof y === "string" && !caseExact ? x.toLowerCase() === y.toLowerCase() : isDeepStrictEqual(x, y);
  if (!equal(va, vb, valueAttribute.caseExact)) return false;
  const [ta, tb] = [readCaseInsensitive(a, "type"), readCaseInsensitive(b, "type")];
  return isUnassigned(ta) || isUnassigned(tb) || equal(ta, tb, false);
}

/** RFC 7643 §2.4: at most one element is primary; the one just written wins. */
export function keepOnePrimary(elements: unknown[], winner: unknown): void {
  if (!isRecord(winner) || winner.primary !== true) return;
  for (const element of elements) if (element !== winner && isRecord(element) && element.primary === true) element.primary = false;
}

function normaliseAttributes(
  body: Record<string, unknown>,
  attributes: readonly AttributeDefinition[],
  where: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    const attribute = findAttribute(attributes, key);
    if (!attribute) throw new ScimProblem("invalidSyntax", `'${key}' is not an attribute of ${where}`);
    // RFC 7643 §2.2: readOnly attributes a client sends (id, meta, groups) are ignored.
    if (attribute.mutability === "readOnly") continue;
    const coerced = attribute.multiValued ? coerceValues(value, attribute) : withoutNulls(coerceValue(value, attribute));
    if (!isUnassigned(coerced)) out[attribute.name] = coerced;
  }
  return out;
}

/**
 * A full resource from a POST or PUT body, ready to store: attribute names in the schema's case,
 * "True"/"False" turned into booleans for boolean attributes, readOnly attributes (id, meta,
 * groups) and unassigned values ("" / null / []) dropped, `schemas` listing the core schema and
 * the extensions present. The service adds id and meta. Throws invalidSyntax for an unknown
 * attribute and invalidValue for a wrong type or a missing required attribute.
 */
export function normaliseResource(body: unknown, resourceType: ScimResourceType): ScimResource {
  if (!isRecord(body)) throw new ScimProblem("invalidSyntax", `a ${resourceType.name} must be a JSON object`);
  const core: Record<string, unknown> = {};
  const extensions: Record<string, Record<string, unknown>> = {};
  const custom: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (key.toLowerCase() === "schemas") continue;
    const extension = resourceType.extensions.find((schema) => schema.id.toLowerCase() === key.toLowerCase());
    if (!extension && /^urn:/i.test(key) && isRecord(value)) {
      // A schema extension this service does not know (an identity provider's custom extension, an app's own
      // namespace): kept as sent, so a provider's extra attributes never block a user.
      custom[key] = value;
      continue;
    }
    if (extension) {
      if (value === null) continue;
      if (!isRecord(value)) throw new ScimProblem("invalidSyntax", `'${key}' must be an object of that extension's attributes`);
      const attributes = normaliseAttributes(value, extension.attributes, extension.id);
      if (Object.keys(attributes).length > 0) extensions[extension.id] = attributes;
    } else {
      Object.assign(
        core,
        normaliseAttributes({ [key]: value }, [...resourceType.schema.attributes, ...COMMON_ATTRIBUTES], resourceType.name),
      );
    }
  }
  for (const attribute of resourceType.schema.attributes)
    if (attribute.required && !(attribute.name in core))
      throw new ScimProblem("invalidValue", `a ${resourceType.name} needs '${attribute.name}'`);
  return { schemas: [resourceType.schema.id, ...Object.keys(extensions), ...Object.keys(custom)], ...core, ...extensions, ...custom };
}

/** Keeps `schemas` in step with the extension objects a resource carries (RFC 7643 §3). */
export function syncSchemas(resource: ScimResource, resourceType: ScimResourceType): void {
  const present = resourceType.extensions.filter((schema) => isRecord(readCaseInsensitive(resource, schema.id)));
  if (!Array.isArray(resource.schemas) && present.length === 0) return;
  const listed = Array.isArray(resource.schemas) ? resource.schemas.filter((id): id is string => typeof id === "string") : [];
  const known = (id: string) => findSchema(resourceType, id);
  const kept = listed.filter((id) => !known(id) || known(id) === resourceType.schema || present.includes(known(id)!));
  for (const schema of present) if (!kept.some((id) => known(id) === schema)) kept.push(schema.id);
  if (!kept.some((id) => known(id) === resourceType.schema)) kept.unshift(resourceType.schema.id);
  if (!isDeepStrictEqual(kept, resource.schemas)) resource.schemas = kept;
}

/** A resource as a client may see it: `returned: "never"` attributes (password) left out. */
export function presentResource(resource: ScimResource, resourceType: ScimResourceType): ScimResource {
  const hidden = resourceType.schema.attributes.filter((attribute) => attribute.returned === "never");
  const out = { ...resource };
  for (const attribute of hidden) deleteKey(out, attribute.name);
  return out;
}
