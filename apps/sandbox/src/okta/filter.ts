/**
 * Okta's list expressions (`filter=` and `search=` on /api/v1/users and /api/v1/groups):
 * `attr op "value"` or `attr pr`, joined by `and` / `or` (and binds tighter) and grouped with
 * parentheses. Operators are case-insensitive; attribute names are case-sensitive. `filter`
 * takes only `eq`, except on `lastUpdated`, which also takes `gt ge lt le`, and only a few
 * attributes; `search` takes every attribute and `sw`, `co`, `pr` too.
 */
export type Predicate = (record: Record<string, unknown>) => boolean;

export class ExpressionError extends Error {}

const OPS = ["eq", "sw", "co", "pr", "gt", "ge", "lt", "le"] as const;
type Op = (typeof OPS)[number];

interface Rules {
  /** Attributes the expression may name; every one when absent. */
  attributes?: readonly string[];
  /** The operators an attribute may take. */
  ops: (attribute: string) => readonly Op[];
}

export const USER_FILTER: Rules = {
  attributes: ["status", "lastUpdated", "id", "profile.login", "profile.email", "profile.firstName", "profile.lastName"],
  ops: (attribute) => (attribute === "lastUpdated" ? ["eq", "gt", "ge", "lt", "le"] : ["eq"]),
};
export const GROUP_FILTER: Rules = {
  attributes: ["id", "type", "lastUpdated", "lastMembershipUpdated", "profile.name"],
  ops: (attribute) => (attribute.startsWith("last") ? ["eq", "gt", "ge", "lt", "le"] : ["eq"]),
};
export const SEARCH: Rules = { ops: () => OPS };

const TOKEN = /\s*(\(|\)|"(?:[^"\\]|\\.)*"|[^\s()]+)/y;

export function parseExpression(text: string, rules: Rules): Predicate {
  const tokens: string[] = [];
  let end = 0;
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(text); m; m = TOKEN.exec(text)) {
    tokens.push(m[1]!);
    end = TOKEN.lastIndex;
  }
  if (text.slice(end).trim() || tokens.length === 0) throw new ExpressionError("Invalid search criteria.");
  let at = 0;
  const peek = () => tokens[at]?.toLowerCase();

  function or(): Predicate {
    const parts = [and()];
    while (peek() === "or") {
      at++;
      parts.push(and());
    }
    return parts.length === 1 ? parts[0]! : (r) => parts.some((p) => p(r));
  }
  function and(): Predicate {
    const parts = [term()];
    while (peek() === "and") {
      at++;
      parts.push(term());
    }
    return parts.length === 1 ? parts[0]! : (r) => parts.every((p) => p(r));
  }
  function term(): Predicate {
    if (tokens[at] === "(") {
      at++;
      const inner = or();
      if (tokens[at++] !== ")") throw new ExpressionError("Invalid search criteria.");
      return inner;
    }
    const attribute = tokens[at++];
    const op = tokens[at++]?.toLowerCase() as Op | undefined;
    if (!attribute || !op || !OPS.includes(op)) throw new ExpressionError("Invalid search criteria.");
    if (rules.attributes && !rules.attributes.includes(attribute)) throw new ExpressionError("Invalid search criteria.");
    if (!rules.ops(attribute).includes(op)) throw new ExpressionError("Invalid search criteria.");
    if (op === "pr") return (r) => valueAt(r, attribute) !== undefined && valueAt(r, attribute) !== null;
    const raw = tokens[at++];
    if (raw === undefined) throw new ExpressionError("Invalid search criteria.");
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    return (r) => compare(valueAt(r, attribute), op, value);
  }

  const predicate = or();
  if (at !== tokens.length) throw new ExpressionError("Invalid search criteria.");
  return predicate;
}

function valueAt(record: Record<string, unknown>, path: string): unknown {
  let value: unknown = record;
  for (const part of path.split(".")) value = value && typeof value === "object" ? (value as Record<string, unknown>)[part] : undefined;
  return value;
}

/** String values compare case-insensitively, as Okta documents; times compare as instants. */
function compare(actual: unknown, op: Op, expected: string): boolean {
  if (actual === undefined || actual === null) return false;
  if (Array.isArray(actual)) return actual.some((a) => compare(a, op, expected));
  const a = String(actual).toLowerCase();
  const e = expected.toLowerCase();
  const asTime = (s: string) => Date.parse(s);
  const ordered = () => {
    const x = asTime(String(actual));
    const y = asTime(expected);
    return Number.isNaN(x) || Number.isNaN(y) ? a.localeCompare(e) : x - y;
  };
  switch (op) {
    case "eq":
      return a === e;
    case "sw":
      return a.startsWith(e);
    case "co":
      return a.includes(e);
    case "gt":
      return ordered() > 0;
    case "ge":
      return ordered() >= 0;
    case "lt":
      return ordered() < 0;
    case "le":
      return ordered() <= 0;
    default:
      return false;
  }
}
