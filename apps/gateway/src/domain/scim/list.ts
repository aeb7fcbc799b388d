import type { ScimWhere } from "@unifold/db";
import { matchesResolvedFilter, parseFilter, type ResolvedFilter, resolveFilter, ScimProblem } from "@unifold/engine";
import type { ScimParts } from "./parts.ts";
import { present } from "./resources.ts";
import { type Endpoint, resourceTypes, type ScimScope, typeOf } from "./scope.ts";

export const LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/** The most resources one page holds (ServiceProviderConfig filter.maxResults). */
export const MAX_RESULTS = 1000;

export interface ListQuery {
  filter?: string | undefined;
  startIndex?: string | undefined;
  count?: string | undefined;
  attributes?: string | undefined;
  excludedAttributes?: string | undefined;
}

/** RFC 7644 §3.4.2.4: a startIndex below 1 is 1; a negative count is 0; a count above the maximum is the maximum. */
function paging(query: ListQuery) {
  const integer = (name: string, text: string | undefined, fallback: number) => {
    if (text === undefined || text === "") return fallback;
    if (!/^-?\d{1,9}$/.test(text.trim())) throw new ScimProblem("invalidValue", `${name} must be an integer`);
    return Number(text);
  };
  return {
    startIndex: Math.max(1, integer("startIndex", query.startIndex, 1)),
    count: Math.min(MAX_RESULTS, Math.max(0, integer("count", query.count, 100))),
  };
}

/**
 * Equalities the database can narrow a filter by. The full filter still runs on what it answers,
 * so the narrowing may only ever keep too much (a case-insensitive name key for any displayName).
 */
function narrowing(filter: ResolvedFilter, endpoint: Endpoint): ScimWhere | undefined {
  if (filter.kind === "and") return narrowing(filter.left, endpoint) ?? narrowing(filter.right, endpoint);
  // An identity provider's matching on `emails[type eq "work"].value eq "…"` (or `emails.value eq "…"`): any email with that value.
  if (filter.kind === "valuePath" && filter.path.attribute.name === "emails") return emailIn(filter.filter);
  if (filter.kind === "compare" && filter.path.attribute.name === "emails" && filter.path.sub?.name === "value") return emailIn(filter);
  if (filter.kind !== "compare" || filter.op !== "eq" || typeof filter.value !== "string" || filter.path.sub || filter.path.extension)
    return undefined;
  const name = filter.path.attribute.name;
  if (name === (endpoint === "Users" ? "userName" : "displayName")) return { nameKey: filter.value.toLowerCase() };
  if (name === "externalId") return { externalId: filter.value };
  if (name === "id") return { id: filter.value };
  return undefined;
}

function emailIn(filter: ResolvedFilter): ScimWhere | undefined {
  if (filter.kind === "and") return emailIn(filter.left) ?? emailIn(filter.right);
  if (filter.kind === "compare" && filter.op === "eq" && typeof filter.value === "string" && filter.path.sub?.name === "value")
    return { email: filter.value };
  return undefined;
}

/** A query (RFC 7644 §3.4.2): always a ListResponse, in creation order, which stays stable across pages. */
export async function listResources(parts: ScimParts, scope: ScimScope, endpoint: Endpoint, query: ListQuery) {
  const { startIndex, count } = paging(query);
  const type = typeOf(endpoint);
  const connectionId = scope.connection.id;
  let rows: Record<string, unknown>[];
  let total: number;
  if (query.filter === undefined || query.filter.trim() === "") {
    const page = await parts.store.list(connectionId, type, { offset: startIndex - 1, limit: count });
    rows = page.rows.map((row) => present(scope, endpoint, row));
    total = page.total;
  } else {
    // Refused before any read: an unknown attribute or a comparison the schema does not allow.
    const filter = resolveFilter(parseFilter(query.filter), resourceTypes[endpoint]);
    const candidates = await parts.store.list(connectionId, type, { where: narrowing(filter, endpoint), offset: 0 });
    const matching = candidates.rows
      .map((row) => present(scope, endpoint, row))
      .filter((resource) => matchesResolvedFilter(filter, resource));
    total = matching.length;
    rows = matching.slice(startIndex - 1, startIndex - 1 + count);
  }
  const projected = rows.map((resource) => project(resource, query, endpoint));
  return { schemas: [LIST_SCHEMA], totalResults: total, startIndex, itemsPerPage: projected.length, Resources: projected };
}

/**
 * `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): top-level attributes, one
 * level of sub-attribute (`name.givenName`) and extension URNs; `schemas` and `id` always stay.
 */
export function project(
  resource: Record<string, unknown>,
  query: Pick<ListQuery, "attributes" | "excludedAttributes">,
  endpoint: Endpoint,
) {
  const names = (text: string | undefined) =>
    (text ?? "")
      .split(",")
      .map((name) => name.trim())
      .filter(Boolean);
  const wanted = names(query.attributes);
  const excluded = names(query.excludedAttributes);
  if (!wanted.length && !excluded.length) return resource;
  const extensions = resourceTypes[endpoint].extensions.map((schema) => schema.id);
  const split = (name: string): [string, string | undefined] => {
    const urn = extensions.find((id) => name.toLowerCase().startsWith(`${id.toLowerCase()}:`));
    if (urn) return [urn, name.slice(urn.length + 1)];
    const core = resourceTypes[endpoint].schema.id;
    const bare = name.toLowerCase().startsWith(`${core.toLowerCase()}:`) ? name.slice(core.length + 1) : name;
    const [top, sub] = bare.split(".");
    return [top!, sub];
  };
  const keyOf = (name: string) => Object.keys(resource).find((key) => key.toLowerCase() === name.toLowerCase());
  const always = new Set(["schemas", "id"]);
  if (wanted.length) {
    const out: Record<string, unknown> = {};
    for (const key of always) if (key in resource) out[key] = resource[key];
    for (const name of wanted) {
      const [top, sub] = split(name);
      const key = keyOf(top);
      if (!key) continue;
      const value = resource[key];
      if (sub === undefined || typeof value !== "object" || value === null || Array.isArray(value)) out[key] = value;
      else {
        const inner = Object.keys(value).find((k) => k.toLowerCase() === sub.toLowerCase());
        if (inner) out[key] = { ...((out[key] as object) ?? {}), [inner]: (value as Record<string, unknown>)[inner] };
      }
    }
    return out;
  }
  const out = { ...resource };
  for (const name of excluded) {
    const [top, sub] = split(name);
    const key = keyOf(top);
    if (!key || always.has(key)) continue;
    const value = out[key];
    if (sub === undefined) delete out[key];
    else if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      out[key] = Object.fromEntries(Object.entries(value).filter(([k]) => k.toLowerCase() !== sub.toLowerCase()));
    }
  }
  return out;
}
