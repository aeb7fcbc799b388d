import type { z } from "zod";
import type { MappedIntegration, UnifiedResource } from "./definition.ts";
import { resourceModels, Timestamp } from "./model.ts";

/**
 * Holds every mapped record to the unified model before it leaves the gateway. The model's zod
 * schema is compiled once per integration and resource into plain checks (a zod parse per field
 * would cost more than the mapping itself). What a check refuses is answered as `null` (or as `[]`,
 * or the list item left out), never with the vendor's value, and named in `issues` by its path
 * (`emails[].type`), so it can be counted and logged without the value. A record the model cannot
 * serve at all (not an object, no `id`) conforms to `undefined`.
 */
export interface Conformed {
  object: Record<string, unknown> | undefined;
  /** Paths of the fields answered as null, [] or left out because their value was off-model. */
  issues: string[];
}

export type ValueTables = Readonly<Record<string, Readonly<Record<string, string>>>>;

const DROP = Symbol("off-model");
type Check = (value: unknown, issues: string[]) => unknown;

interface Node {
  check: Check;
  /** What a missing or refused value becomes: null, [], or nothing (the key left out). */
  fallback: "null" | "empty" | "omit" | "required";
}

const isoTime = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$/i;

// A time already in the answer's form (what most vendors send) is checked digit by digit:
// parsing and re-printing it with Date costs ~0.7 µs a value, more than the rest of a record.
const digits = (text: string, from: number, count: number): number => {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
};
const daysIn = (year: number, month: number) =>
  month === 2
    ? year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
      ? 29
      : 28
    : month === 4 || month === 6 || month === 9 || month === 11
      ? 30
      : 31;

/** `YYYY-MM-DDTHH:MM:SS[.sss]Z` as the answer's form, DROP when its fields are out of range, undefined when it has another form. */
function canonicalUtc(v: string): string | typeof DROP | undefined {
  const withMs = v.length === 24;
  if (
    !(withMs || v.length === 20) ||
    v[4] !== "-" ||
    v[7] !== "-" ||
    v[10] !== "T" ||
    v[13] !== ":" ||
    v[16] !== ":" ||
    v[v.length - 1] !== "Z"
  )
    return undefined;
  if (withMs && (v[19] !== "." || digits(v, 20, 3) < 0)) return undefined;
  const year = digits(v, 0, 4);
  const month = digits(v, 5, 2);
  const day = digits(v, 8, 2);
  const hour = digits(v, 11, 2);
  const minute = digits(v, 14, 2);
  const second = digits(v, 17, 2);
  if (year < 0 || hour < 0 || minute < 0 || second < 0) return undefined;
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return DROP;
  return withMs ? v : `${v.slice(0, 19)}.000Z`;
}

/** A vendor time as ISO-8601 UTC ending in Z, or DROP when it is no time (a zone-less time is taken as UTC). */
function toUtc(value: unknown): unknown {
  if (typeof value !== "string") return DROP;
  const fast = canonicalUtc(value);
  if (fast !== undefined) return fast;
  if (!isoTime.test(value)) return DROP;
  const zoned = /(?:Z|[+-]\d{2}(?::?\d{2})?)$/i.test(value.slice(10)) ? value : `${value.length === 10 ? `${value}T00:00:00` : value}Z`;
  const ms = Date.parse(zoned.replace(" ", "T"));
  return Number.isNaN(ms) ? DROP : new Date(ms).toISOString();
}

function compile(schema: z.ZodType, path: string, tables: ValueTables): Node {
  let inner = schema;
  let fallback: Node["fallback"] = "required";
  if (schema === Timestamp) return { check: (v) => toUtc(v), fallback: "null" };
  for (;;) {
    const type = inner._zod.def.type;
    if (type === "nullable") fallback = "null";
    else if (type === "optional") fallback = "omit";
    else break;
    inner = (inner as unknown as { unwrap(): z.ZodType }).unwrap();
  }
  const def = inner._zod.def as { type: string };
  if (def.type === "object") {
    const shape = (inner as z.ZodObject).shape as Record<string, z.ZodType>;
    const fields = Object.entries(shape).map(([key, child]) => [key, compile(child, path ? `${path}.${key}` : key, tables)] as const);
    return { check: objectCheck(fields, path), fallback };
  }
  if (def.type === "array") {
    const item = compile((inner as z.ZodArray<z.ZodType>).element, `${path}[]`, tables);
    return {
      check: (value, issues) => {
        if (!Array.isArray(value)) return DROP;
        const out: unknown[] = [];
        for (const entry of value) {
          const conformed = entry === null || entry === undefined ? DROP : item.check(entry, issues);
          if (conformed === DROP) issues.push(`${path}[]`);
          else out.push(conformed);
        }
        return out;
      },
      fallback: fallback === "required" ? "empty" : fallback,
    };
  }
  const table = tables[path.replace(/\[\]/g, "")];
  const leaf = leafCheck(inner);
  const check: Check = table ? (v, issues) => leaf(typeof v === "string" && Object.hasOwn(table, v) ? table[v] : v, issues) : leaf;
  return { check, fallback };
}

/**
 * An object's check, generated as straight-line code with the model's keys as literals (as the
 * mapping compiler builds objects): V8 then reads and stores each field by name, where a loop
 * over the fields makes a keyed load and a keyed store with a different key each time.
 */
function objectCheck(fields: (readonly [string, Node])[], path: string): Check {
  const lines = fields.map(([key, node], i) => {
    const name = JSON.stringify(key);
    const where = JSON.stringify(path ? `${path}.${key}` : key);
    const answer = {
      null: `out[${name}] = c === DROP ? null : c;`,
      empty: `out[${name}] = c === DROP ? [] : c;`,
      omit: `if (c !== DROP) out[${name}] = c;`,
      required: `if (c === DROP) { if (raw === undefined || raw === null) issues.push(${where}); return DROP; } out[${name}] = c;`,
    }[node.fallback];
    return `raw = source[${name}]; c = DROP;
      if (raw !== undefined && raw !== null) { c = checks[${i}](raw, issues); if (c === DROP) issues.push(${where}); }
      ${answer}`;
  });
  const build = new Function(
    "checks",
    "DROP",
    `return function check(value, issues) {
      if (value === null || typeof value !== "object" || Array.isArray(value)) return DROP;
      const source = value;
      const out = {};
      let raw, c;
      ${lines.join("\n      ")}
      return out;
    };`,
  ) as (checks: Check[], drop: typeof DROP) => Check;
  return build(
    fields.map(([, node]) => node.check),
    DROP,
  );
}

/**
 * Text a store or a receiver can hold: no U+0000 (JSON allows it, Postgres refuses it in jsonb and
 * text) and no half of a surrogate pair (not Unicode; it cannot be encoded as UTF-8).
 */
export function isStorableText(value: string): boolean {
  return !unstorable.test(value);
}
// In a `u` regex a well-formed pair is one code point, so \p{Cs} matches only a lone half.
// eslint-disable-next-line no-control-regex -- U+0000 is exactly what is looked for
const unstorable = /[\u0000\p{Cs}]/u;

function leafCheck(schema: z.ZodType): Check {
  const def = schema._zod.def as {
    type: string;
    format?: string;
    entries?: Record<string, string>;
    checks?: { _zod: { def: { check: string; minimum?: number } } }[];
  };
  const checks = (def.checks ?? []).map((c) => c._zod.def);
  switch (def.type) {
    case "string":
      // The model's strings are plain or non-empty; anything richer is left to zod below.
      if (!def.format && checks.every((c) => c.check === "min_length")) {
        const min = Math.max(0, ...checks.map((c) => c.minimum ?? 0));
        return (v) => (typeof v === "string" && v.length >= min && isStorableText(v) ? v : DROP);
      }
      break;
    case "enum": {
      const allowed = new Set(Object.values(def.entries ?? {}));
      return (v) => (typeof v === "string" && allowed.has(v) ? v : DROP);
    }
    case "boolean":
      return (v) => (typeof v === "boolean" ? v : DROP);
    case "unknown":
      return (v) => v;
  }
  return (v) => (schema.safeParse(v).success && (typeof v !== "string" || isStorableText(v)) ? v : DROP);
}

const compiled = new WeakMap<MappedIntegration, Map<UnifiedResource, Check>>();

/** The model check for one integration's resource, compiled once (the integration's value tables baked in). */
export function conformerFor(integration: MappedIntegration, resource: UnifiedResource): (record: unknown) => Conformed {
  let byResource = compiled.get(integration);
  if (!byResource) compiled.set(integration, (byResource = new Map()));
  let check = byResource.get(resource);
  if (!check) {
    // The raw upstream object is the gateway's to add: a mapping's own `remote_data` is off-model.
    const model = (resourceModels[resource].schema as z.ZodObject).omit({ remote_data: true });
    check = compile(model, "", integration.values).check;
    byResource.set(resource, check);
  }
  const run = check;
  return (record) => {
    const issues: string[] = [];
    const object = run(record, issues);
    return { object: object === DROP ? undefined : (object as Record<string, unknown>), issues };
  };
}
