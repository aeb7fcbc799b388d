import type { Context } from "hono";
import { jsonArray } from "./collection.ts";

export const SCHEMA = {
  user: "urn:ietf:params:scim:schemas:core:2.0:User",
  group: "urn:ietf:params:scim:schemas:core:2.0:Group",
  enterprise: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
  list: "urn:ietf:params:scim:api:messages:2.0:ListResponse",
  error: "urn:ietf:params:scim:api:messages:2.0:Error",
  patch: "urn:ietf:params:scim:api:messages:2.0:PatchOp",
  bulkRequest: "urn:ietf:params:scim:api:messages:2.0:BulkRequest",
  bulkResponse: "urn:ietf:params:scim:api:messages:2.0:BulkResponse",
  search: "urn:ietf:params:scim:api:messages:2.0:SearchRequest",
} as const;

export type ScimType =
  "invalidFilter" | "invalidValue" | "invalidPath" | "invalidSyntax" | "uniqueness" | "mutability" | "tooMany" | "noTarget";

/** RFC 7644 §3.12 error: `status` is a string; `scimType` on 400/409 (and 413 tooMany). */
export function scimErrorBody(status: number, detail: string, scimType?: ScimType) {
  return { schemas: [SCHEMA.error], status: String(status), ...(scimType && { scimType }), detail };
}

export function scimError(c: Context, status: number, detail: string, scimType?: ScimType, contentType = "application/json") {
  return c.body(JSON.stringify(scimErrorBody(status, detail, scimType)), status as 400, { "content-type": contentType });
}

export function listResponse<T>(resources: T[], totalResults: number, startIndex: number) {
  return { schemas: [SCHEMA.list], totalResults, startIndex, itemsPerPage: resources.length, Resources: resources };
}

/** The same ListResponse as JSON text, built from each record's cached JSON. */
export function sendList(c: Context, resources: object[], totalResults: number, startIndex: number) {
  const head = JSON.stringify({ schemas: [SCHEMA.list], totalResults, startIndex, itemsPerPage: resources.length }).slice(0, -1);
  return c.body(`${head},"Resources":${jsonArray(resources)}}`, 200, { "content-type": "application/json" });
}

/** Parses a SCIM filter; undefined when it is not valid SCIM filter syntax. */
// A filter's comparison value is a JSON value (RFC 7644 §3.4.2.2): strings carry JSON's escapes.
// scim2-parse-filter read `\\` and `\t` literally and could not end a string on `\\"`, so the
// simulators parse the one form they serve themselves.
const VALUE = String.raw`"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"|true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?`;
const CLAUSE = new RegExp(String.raw`^\s*([A-Za-z][\w.:$-]*)\s+eq\s+(${VALUE})\s*`, "i");

/** The `attr eq value` clauses of a filter made only of eq joined by and; undefined for anything else. */
export function eqClauses(filter: string): { attr: string; value: unknown }[] | undefined {
  const clauses: { attr: string; value: unknown }[] = [];
  let rest = filter;
  for (;;) {
    const clause = CLAUSE.exec(rest);
    if (!clause) return undefined;
    clauses.push({ attr: clause[1]!, value: JSON.parse(clause[2]!) });
    rest = rest.slice(clause[0].length);
    if (rest === "") return clauses;
    const and = /^and\s+/i.exec(rest);
    if (!and) return undefined;
    rest = rest.slice(and[0].length);
  }
}

/** startIndex/count as RFC 7644 reads them; `max` caps count. Returns an error message when invalid. */
export function pageParams(c: Context, max: number, defaultCount: number): { startIndex: number; count: number } | string {
  const startRaw = c.req.query("startIndex");
  const countRaw = c.req.query("count");
  const startIndex = startRaw === undefined ? 1 : Number(startRaw);
  const count = countRaw === undefined ? defaultCount : Number(countRaw);
  if (!Number.isInteger(startIndex) || startIndex < 1) return "startIndex must be an integer of 1 or greater";
  if (!Number.isInteger(count) || count < 0) return "count must be a non-negative integer";
  return { startIndex, count: Math.min(count, max) };
}

/** Reads a JSON body; SCIM clients send application/scim+json, others application/json. */
export async function readJson(c: Context): Promise<unknown | Error> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/(scim\+)?json\b/i.test(type)) return new Error(`unsupported content type "${type}"; send application/scim+json`);
  try {
    return await c.req.json();
  } catch {
    return new Error("the body is not valid JSON");
  }
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
