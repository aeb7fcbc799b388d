import { isDeepStrictEqual } from "node:util";
import { isUnassigned, matchesElement, parsePath, readCaseInsensitive, type FilterNode, type PatchPath } from "./filter.ts";
import { ScimProblem } from "./problem.ts";
import {
  coerceValue,
  coerceValues,
  deleteKey,
  isRecord,
  keepOnePrimary,
  sameElement,
  syncSchemas,
  withoutNulls,
  writeKey,
  type ScimResource,
} from "./resource.ts";
import { findAttribute, resolveAttribute, type AttributeDefinition, type SchemaDefinition, type ScimResourceType } from "./schemas.ts";

export const PATCH_OP_SCHEMA_ID = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

export interface PatchOperation {
  op: "add" | "remove" | "replace";
  path?: string;
  value?: unknown;
}

/** The operations of a PatchOp request body (RFC 7644 §3.5.2), op names lower-cased (clients send "Replace"). */
export function readPatchRequest(body: unknown): PatchOperation[] {
  if (!isRecord(body)) throw new ScimProblem("invalidSyntax", "a PATCH body must be a PatchOp JSON object");
  const schemas = readCaseInsensitive(body, "schemas");
  if (!Array.isArray(schemas) || !schemas.some((id) => typeof id === "string" && id.toLowerCase() === PATCH_OP_SCHEMA_ID.toLowerCase()))
    throw new ScimProblem("invalidSyntax", `a PATCH body's schemas must list ${PATCH_OP_SCHEMA_ID}`);
  return readOperations(readCaseInsensitive(body, "Operations"));
}

function readOperations(operations: unknown): PatchOperation[] {
  if (!Array.isArray(operations) || operations.length === 0)
    throw new ScimProblem("invalidSyntax", "a PATCH needs a non-empty 'Operations' array");
  return operations.map((operation, index) => {
    if (!isRecord(operation)) throw new ScimProblem("invalidSyntax", `operation ${index + 1} is not an object`);
    const op = readCaseInsensitive(operation, "op");
    const name = typeof op === "string" ? op.toLowerCase() : "";
    if (name !== "add" && name !== "remove" && name !== "replace")
      throw new ScimProblem("invalidSyntax", `operation ${index + 1}: 'op' must be add, remove or replace, not ${JSON.stringify(op)}`);
    const path = readCaseInsensitive(operation, "path");
    if (path !== undefined && path !== null && typeof path !== "string")
      throw new ScimProblem("invalidPath", `operation ${index + 1}: 'path' must be a string`);
    const value = readCaseInsensitive(operation, "value");
    if (name !== "remove" && value === undefined)
      throw new ScimProblem("invalidSyntax", `operation ${index + 1}: '${name}' needs a 'value'`);
    return { op: name, ...(typeof path === "string" ? { path } : {}), ...(value !== undefined ? { value } : {}) };
  });
}

/** What a path names once resolved against the resource type. */
interface Target {
  schema: SchemaDefinition;
  /** Undefined when the path names a whole extension (`urn:…:enterprise:2.0:User`). */
  attribute?: AttributeDefinition;
  sub?: AttributeDefinition;
  filter?: FilterNode;
  /** The sub-attribute written in matched elements: `value` in `emails[type eq "work"].value`. */
  filterSub?: AttributeDefinition;
  text: string;
}

function resolveTarget(path: PatchPath, text: string, resourceType: ScimResourceType): Target {
  const { urn, name, sub } = path.attribute;
  const whole = urn !== undefined && sub === undefined && !path.filter ? `${urn}:${name}`.toLowerCase() : undefined;
  const extension = resourceType.extensions.find((schema) => schema.id.toLowerCase() === whole);
  if (extension) return { schema: extension, text };
  const found = resolveAttribute(resourceType, urn, name);
  if (!found) throw new ScimProblem("invalidPath", `'${text}' names no attribute of ${resourceType.name}`);
  const { schema, attribute } = found;
  const subOf = (subName: string) => {
    const definition = attribute.type === "complex" ? findAttribute(attribute.subAttributes ?? [], subName) : undefined;
    if (!definition) throw new ScimProblem("invalidPath", `'${attribute.name}' has no sub-attribute '${subName}' (in '${text}')`);
    return definition;
  };
  if (!path.filter) return { schema, attribute, ...(sub !== undefined ? { sub: subOf(sub) } : {}), text };
  if (attribute.type !== "complex" || !attribute.multiValued)
    throw new ScimProblem("invalidPath", `a value filter [ ] applies to a multi-valued complex attribute, not '${attribute.name}'`);
  const target = { schema, attribute, filter: path.filter, ...(path.sub !== undefined ? { filterSub: subOf(path.sub) } : {}), text };
  // Resolving the filter checks every name and comparison in it, even when there is no element to try it on.
  matching([{}], target);
  return target;
}

/** The elements the filter selects; a comparison the RFC refuses (gt on a boolean) is a bad path here. */
function matching(elements: unknown[], target: Target): unknown[] {
  try {
    return elements.filter((element) => matchesElement(target.filter!, element, target.attribute!));
  } catch (error) {
    if (error instanceof ScimProblem) throw new ScimProblem("invalidPath", `${error.detail} (in '${target.text}')`);
    throw error;
  }
}

/**
 * A path into a schema extension this service does not know (an identity provider's
 * `urn:…:CustomExtensionName:2.0:User:costCenter`, or the whole extension object): kept as sent,
 * as a POST keeps it, so a provider's custom attributes never block an update. Answers whether
 * the path was one; known schemas and filtered paths are left to the schema-checked path.
 */
function patchUnknownExtension(doc: ScimResource, op: string, path: string, value: unknown, resourceType: ScimResourceType): boolean {
  if (!/^urn:/i.test(path) || path.includes("[")) return false;
  const known = [resourceType.schema, ...resourceType.extensions].some((schema) => path.toLowerCase().startsWith(schema.id.toLowerCase()));
  if (known) return false;
  const clearing = op === "remove" || value === null || value === "";
  const urnKey = Object.keys(doc).find((key) => /^urn:/i.test(key) && path.toLowerCase().startsWith(`${key.toLowerCase()}:`));
  if (isRecord(value) && !urnKey) {
    // The whole extension object (`{"urn:…:User": {…}}`): merged on add and replace.
    const existing = Object.keys(doc).find((key) => key.toLowerCase() === path.toLowerCase());
    if (clearing) {
      if (existing) delete doc[existing];
    } else doc[existing ?? path] = { ...((existing && isRecord(doc[existing]) ? doc[existing] : {}) as object), ...value };
  } else {
    const colon = path.lastIndexOf(":");
    if (colon <= 4) return false;
    const urn = urnKey ?? path.slice(0, colon);
    const [name, sub] = path.slice(urn.length + 1).split(".", 2) as [string, string | undefined];
    const container = isRecord(doc[urn]) ? { ...(doc[urn] as Record<string, unknown>) } : {};
    if (sub === undefined) {
      if (clearing) delete container[name];
      else container[name] = value;
    } else {
      const inner = isRecord(container[name]) ? { ...(container[name] as Record<string, unknown>) } : {};
      if (clearing) delete inner[sub];
      else inner[sub] = value;
      if (Object.keys(inner).length) container[name] = inner;
      else delete container[name];
    }
    if (Object.keys(container).length) doc[urn] = container;
    else delete doc[urn];
  }
  const listed = Array.isArray(doc.schemas)
    ? (doc.schemas as unknown[]).filter((id): id is string => typeof id === "string")
    : [resourceType.schema.id];
  const present = Object.keys(doc).filter((key) => /^urn:/i.test(key) && isRecord(doc[key]));
  const kept = listed.filter(
    (id) => !/^urn:/i.test(id) || [resourceType.schema, ...resourceType.extensions].some((s) => s.id === id) || present.includes(id),
  );
  for (const urn of present) if (!kept.includes(urn)) kept.push(urn);
  doc.schemas = kept;
  return true;
}

/** `type eq "work" and primary eq true` → {type: "work", primary: true}; undefined when the filter says more than that. */
function elementFromFilter(node: FilterNode, attribute: AttributeDefinition): Record<string, unknown> | undefined {
  if (node.kind === "and") {
    const [left, right] = [elementFromFilter(node.left, attribute), elementFromFilter(node.right, attribute)];
    return left && right ? { ...left, ...right } : undefined;
  }
  if (node.kind !== "compare" || node.op !== "eq" || node.value === null) return undefined;
  const sub = findAttribute(attribute.subAttributes ?? [], node.path.name)!;
  return { [sub.name]: coerceValue(node.value, sub) };
}

const clears = (value: unknown) => value === null || value === "";

/** Applies one operation to `doc` (a private copy), in place. */
function applyOperation(doc: ScimResource, op: PatchOperation["op"], target: Target, value: unknown, resourceType: ScimResourceType): void {
  const { schema, attribute } = target;
  const isCore = schema === resourceType.schema;

  if (!attribute) {
    // A whole extension: its value's keys are that extension's attribute paths.
    if (op === "remove" || clears(value)) return deleteKey(doc, schema.id);
    if (!isRecord(value)) throw new ScimProblem("invalidValue", `'${target.text}' takes an object of that extension's attributes`);
    for (const [key, inner] of Object.entries(value)) {
      const text = `${schema.id}:${key}`;
      applyOperation(doc, op, resolveTarget(parsePath(text), text, resourceType), inner, resourceType);
    }
    return;
  }

  const written = target.filterSub ?? target.sub ?? attribute;
  if (attribute.mutability === "readOnly" || written.mutability === "readOnly")
    throw new ScimProblem("mutability", `'${target.text}' is readOnly`);

  let container: Record<string, unknown>;
  if (isCore) container = doc;
  else {
    const existing = readCaseInsensitive(doc, schema.id);
    container = isRecord(existing) ? existing : {};
    writeKey(doc, schema.id, container);
  }
  const current = readCaseInsensitive(container, attribute.name);
  const store = (next: unknown) => {
    if (isUnassigned(next)) {
      if (attribute.required && !isUnassigned(current))
        throw new ScimProblem("mutability", `'${attribute.name}' is required: it cannot be removed or emptied`);
      deleteKey(container, attribute.name);
    } else writeKey(container, attribute.name, next);
    if (!isCore && Object.keys(container).length === 0) deleteKey(doc, schema.id);
  };
  const guardImmutable = (element: unknown, sub: AttributeDefinition, next: unknown) => {
    const before = readCaseInsensitive(element, sub.name);
    if (sub.mutability === "immutable" && !isUnassigned(before) && !isDeepStrictEqual(before, next))
      throw new ScimProblem("mutability", `'${target.text}' is immutable`);
  };
  /** Sets (or, for null, clears) one sub-attribute of an element, in place. */
  const setSub = (element: Record<string, unknown>, sub: AttributeDefinition, next: unknown) => {
    guardImmutable(element, sub, next);
    if (next === null) deleteKey(element, sub.name);
    else writeKey(element, sub.name, next);
  };

  if (target.filter) {
    const elements = Array.isArray(current) ? current.map((element) => (isRecord(element) ? { ...element } : element)) : [];
    const selected = matching(elements, target);
    const sub = target.filterSub;
    if (op === "remove" || clears(value)) {
      if (!sub) return store(elements.filter((element) => !selected.includes(element)));
      for (const element of selected) if (isRecord(element)) setSub(element, sub, null);
      // An element whose value was cleared (an identity provider's `Replace emails[type eq "work"].value ""`) is gone.
      return store(elements.filter((element) => !(selected.includes(element) && sub.name === "value") && !isUnassigned(element)));
    }
    if (sub) {
      const next = coerceValue(value, sub);
      if (selected.length === 0) {
        // RFC 7644 §3.5.2.3 says noTarget, but identity providers send `Replace emails[type eq "work"].value` for a user
        // with no work email yet, and the reference SCIM server of one of them creates the element: so do we.
        const created = elementFromFilter(target.filter, attribute);
        if (!created)
          throw new ScimProblem("noTarget", `'${target.text}' matches no element, and its filter does not describe one to create`);
        created[sub.name] = next;
        elements.push(created);
        keepOnePrimary(elements, created);
      } else
        for (const element of selected)
          if (isRecord(element)) {
            setSub(element, sub, next);
            keepOnePrimary(elements, element);
          }
      return store(elements);
    }
    const incoming = withoutNulls(coerceValue(value, attribute));
    if (selected.length === 0) {
      const created = op === "add" ? elementFromFilter(target.filter, attribute) : undefined;
      if (!created) throw new ScimProblem("noTarget", `'${target.text}' matches no element`);
      const element = { ...created, ...(incoming as Record<string, unknown>) };
      elements.push(element);
      keepOnePrimary(elements, element);
      return store(elements);
    }
    const replaced = elements.map((element) =>
      !selected.includes(element)
        ? element
        : op === "replace"
          ? { ...(incoming as object) }
          : { ...(element as object), ...(incoming as object) },
    );
    for (const element of replaced) if (!elements.includes(element)) keepOnePrimary(replaced, element);
    return store(replaced);
  }

  if (target.sub) {
    const sub = target.sub;
    if (attribute.multiValued) {
      // `emails.type` with no filter: every element's sub-attribute.
      const elements = Array.isArray(current) ? current.map((element) => (isRecord(element) ? { ...element } : element)) : [];
      if (op !== "remove" && !clears(value) && elements.length === 0)
        throw new ScimProblem("noTarget", `'${target.text}' has no element to set`);
      const next = op === "remove" ? null : coerceValue(value, sub);
      for (const element of elements) if (isRecord(element)) setSub(element, sub, next);
      return store(elements.filter((element) => !isUnassigned(element)));
    }
    const element = isRecord(current) ? { ...current } : {};
    setSub(element, sub, op === "remove" ? null : coerceValue(value, sub));
    return store(element);
  }

  if (op === "remove" && attribute.multiValued && value !== undefined && value !== null) {
    // One identity provider's default job removes members as {"path":"members","value":[{"value":"u1"}]}: remove those, not the list.
    const gone = coerceValues(value, attribute);
    return store(asArray(current).filter((element) => !gone.some((item) => sameElement(element, item, attribute))));
  }
  if (op === "remove" || clears(value)) return store(undefined);

  if (attribute.multiValued) {
    const incoming = coerceValues(value, attribute);
    const elements = op === "replace" ? [] : asArray(current).map((element) => (isRecord(element) ? { ...element } : element));
    for (const item of incoming) {
      const same = elements.findIndex((element) => sameElement(element, item, attribute));
      if (same >= 0 && isRecord(item)) elements[same] = { ...(elements[same] as object), ...item };
      else if (same < 0) elements.push(item);
      keepOnePrimary(elements, same >= 0 ? elements[same] : item);
    }
    return store(elements);
  }

  if (attribute.type === "complex") {
    // RFC 7644 §3.5.2.3: sub-attributes given replace theirs; the others stay.
    const incoming = coerceValue(value, attribute);
    // A one-element list of null or "" (the manager as some providers send it) clears, as null does.
    if (incoming === null) return store(undefined);
    const element = isRecord(current) ? { ...current } : {};
    for (const [name, next] of Object.entries(incoming as Record<string, unknown>))
      setSub(element, findAttribute(attribute.subAttributes ?? [], name)!, next);
    return store(element);
  }

  if (attribute.mutability === "immutable" && !isUnassigned(current) && !isDeepStrictEqual(current, coerceValue(value, attribute)))
    throw new ScimProblem("mutability", `'${target.text}' is immutable`);
  return store(coerceValue(value, attribute));
}

const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : isUnassigned(value) ? [] : [value]);

/**
 * Applies a PATCH (RFC 7644 §3.5.2) to a resource without touching the input. All or nothing:
 * the first refused operation throws a ScimProblem and nothing is applied. `changed` is false
 * when the result equals the input, so a no-change PATCH announces nothing.
 *
 * Beyond the RFC, for the clients that exist: op names in any case ("Replace"); a
 * path-less value whose keys are paths (`{"name.givenName": …}`) or extension URNs;
 * "True"/"False" for boolean attributes; "" and null both clear; readOnly attributes in a
 * path-less value are ignored when unchanged (a group renamed with `{id, displayName}`);
 * members removed by a value array; a value filter with `.sub` creates the element
 * it does not find.
 */
export function applyPatch(
  resource: ScimResource,
  operations: readonly unknown[],
  resourceType: ScimResourceType,
): { resource: ScimResource; changed: boolean } {
  const doc = structuredClone(resource);
  let touchedExtension = false;
  for (const { op, path, value } of readOperations(operations)) {
    if (path === undefined || path.trim() === "") {
      if (op === "remove") throw new ScimProblem("noTarget", "a remove operation needs a path");
      if (!isRecord(value)) throw new ScimProblem("invalidValue", `a path-less '${op}' takes an object of attributes`);
      for (const [key, inner] of Object.entries(value)) {
        // Clients echo `schemas` in the value; it is not an attribute to patch.
        if (key.toLowerCase() === "schemas") continue;
        if (patchUnknownExtension(doc, op, key, inner, resourceType)) continue;
        const target = resolveTarget(parsePath(key), key, resourceType);
        touchedExtension ||= target.schema !== resourceType.schema;
        if (target.attribute?.mutability === "readOnly" && !target.sub && !target.filter) {
          const container = target.schema === resourceType.schema ? doc : readCaseInsensitive(doc, target.schema.id);
          if (isDeepStrictEqual(readCaseInsensitive(container, target.attribute.name), inner)) continue;
        }
        applyOperation(doc, op, target, inner, resourceType);
      }
    } else {
      if (patchUnknownExtension(doc, op, path, value, resourceType)) continue;
      const target = resolveTarget(parsePath(path), path, resourceType);
      touchedExtension ||= target.schema !== resourceType.schema;
      applyOperation(doc, op, target, value, resourceType);
    }
  }
  if (touchedExtension) syncSchemas(doc, resourceType);
  return { resource: doc, changed: !isDeepStrictEqual(doc, resource) };
}
