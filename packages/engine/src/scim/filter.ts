/*
 * Our own parser rather than scimmy (1.3.5), tried against what the providers in docs/scim.md send:
 * its Filter compiles to a lossy object form (DNF arrays, `not` folded into leaves) that is not a
 * tree we can translate to SQL; it has no schema, so `USERNAME eq "Jane"` and userName's
 * caseExact=false both fail to match; it accepts `userName eq` with no value and refuses JSON
 * escapes (`"a\"b"`). Its PatchOp refuses a path spelled `USERNAME`, answers noTarget for an identity provider's
 * `emails[type eq "work"].value` on a user with no work email, stores `""` instead of clearing,
 * duplicates a member added twice, refuses a provider's "False", and applies to its own class instances
 * through an async API and a global schema registry. Thin normalisation in front of it would have
 * meant parsing every path ourselves anyway, which is most of this file.
 */
import { ScimProblem, type ScimType } from "./problem.ts";
import { findAttribute, resolveAttribute, type AttributeDefinition, type ScimResourceType } from "./schemas.ts";

/** An attribute path as written (RFC 7644 §3.10): `[urn:…:]name[.sub]`; resolved against a schema only when used. */
export interface AttributePath {
  urn?: string;
  name: string;
  sub?: string;
}

export type ComparisonOperator = "eq" | "ne" | "co" | "sw" | "ew" | "gt" | "ge" | "lt" | "le";
export type FilterLiteral = string | number | boolean | null;

/** RFC 7644 §3.4.2.2 filters as a tree: evaluated in memory by `matchesFilter`, or walked by a SQL translator. */
export type FilterNode =
  | { kind: "compare"; path: AttributePath; op: ComparisonOperator; value: FilterLiteral }
  | { kind: "present"; path: AttributePath }
  | { kind: "and"; left: FilterNode; right: FilterNode }
  | { kind: "or"; left: FilterNode; right: FilterNode }
  | { kind: "not"; filter: FilterNode }
  /** `emails[type eq "work"]`: the inner filter's paths name sub-attributes of one element. */
  | { kind: "valuePath"; path: AttributePath; filter: FilterNode };

const COMPARISON_OPERATORS = new Set(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]);
// Deeper nesting and longer text than any client sends; the limits keep a hostile filter from exhausting the stack.
const MAX_DEPTH = 50;
const MAX_LENGTH = 4096;

type Token =
  | { kind: "(" | ")" | "[" | "]"; at: number }
  | { kind: "word"; text: string; at: number }
  | { kind: "literal"; value: string | number; at: number }
  | { kind: "sub"; text: string; at: number };

// JSON strings exactly: control characters must be escaped (RFC 8259 §7).
// eslint-disable-next-line no-control-regex
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WORD = /[A-Za-z$][A-Za-z0-9_:.$-]*/y;
const SUB = /\.(\$ref|[A-Za-z][A-Za-z0-9_-]*)/y;
const NAME = /^(?:\$ref|[A-Za-z][A-Za-z0-9_-]*)$/;

function sticky(pattern: RegExp, text: string, at: number): string | undefined {
  pattern.lastIndex = at;
  return pattern.exec(text)?.[0];
}

function tokenize(text: string, problem: ScimType): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < text.length) {
    const c = text[at]!;
    if (/\s/.test(c)) {
      at++;
    } else if (c === "(" || c === ")" || c === "[" || c === "]") {
      tokens.push({ kind: c, at });
      at++;
    } else if (c === '"') {
      const string = sticky(STRING, text, at);
      if (string === undefined) throw new ScimProblem(problem, `an unterminated or badly escaped string at position ${at + 1}`);
      tokens.push({ kind: "literal", value: JSON.parse(string) as string, at });
      at += string.length;
    } else if (c === "." && tokens.at(-1)?.kind === "]") {
      const sub = sticky(SUB, text, at);
      if (sub === undefined) throw new ScimProblem(problem, `a sub-attribute name must follow '.' at position ${at + 1}`);
      tokens.push({ kind: "sub", text: sub.slice(1), at });
      at += sub.length;
    } else if (c === "-" || (c >= "0" && c <= "9")) {
      const number = sticky(NUMBER, text, at);
      if (number === undefined) throw new ScimProblem(problem, `a malformed number at position ${at + 1}`);
      tokens.push({ kind: "literal", value: Number(number), at });
      at += number.length;
    } else {
      const word = sticky(WORD, text, at);
      if (word === undefined) throw new ScimProblem(problem, `an unexpected character '${c}' at position ${at + 1}`);
      tokens.push({ kind: "word", text: word, at });
      at += word.length;
    }
  }
  return tokens;
}

/** `urn:…:User:name.givenName` → { urn, name, sub }; throws `problem` for anything else. */
export function parseAttributePath(text: string, problem: ScimType = "invalidPath"): AttributePath {
  const colon = text.lastIndexOf(":");
  const urn = colon >= 0 ? text.slice(0, colon) : undefined;
  if (urn !== undefined && !/^urn:[A-Za-z0-9][A-Za-z0-9._:-]*$/i.test(urn))
    throw new ScimProblem(problem, `'${text}' is not an attribute path: only a schema URN may precede ':'`);
  const parts = text.slice(colon + 1).split(".");
  if (parts.length > 2 || !parts.every((part) => NAME.test(part)))
    throw new ScimProblem(problem, `'${text}' is not an attribute path (expected name or name.subAttribute)`);
  return { ...(urn !== undefined ? { urn } : {}), name: parts[0]!, ...(parts[1] !== undefined ? { sub: parts[1] } : {}) };
}

/** A recursive-descent parser over RFC 7644's filter grammar; `problem` is invalidFilter for filters, invalidPath in PATCH paths. */
function createParser(text: string, problem: ScimType) {
  if (text.length > MAX_LENGTH) throw new ScimProblem(problem, `'${text.slice(0, 40)}…' is longer than ${MAX_LENGTH} characters`);
  const tokens = tokenize(text, problem);
  let next = 0;
  const fail = (why: string, token = tokens[next]): never => {
    throw new ScimProblem(problem, `${why} ${token ? `at position ${token.at + 1}` : "at the end"} of '${text}'`);
  };
  const peek = () => tokens[next];
  const isWord = (token: Token | undefined, word: string) => token?.kind === "word" && token.text.toLowerCase() === word;
  const expect = (kind: Token["kind"], what: string) => {
    if (peek()?.kind !== kind) fail(`expected ${what}`);
    return tokens[next++]!;
  };

  function or(depth: number, inValuePath: boolean): FilterNode {
    let left = and(depth, inValuePath);
    while (isWord(peek(), "or")) {
      next++;
      left = { kind: "or", left, right: and(depth, inValuePath) };
    }
    return left;
  }

  function and(depth: number, inValuePath: boolean): FilterNode {
    let left = unary(depth, inValuePath);
    while (isWord(peek(), "and")) {
      next++;
      left = { kind: "and", left, right: unary(depth, inValuePath) };
    }
    return left;
  }

  function unary(depth: number, inValuePath: boolean): FilterNode {
    if (depth > MAX_DEPTH) fail("the filter nests too deeply");
    const token = peek();
    if (token?.kind === "(") {
      next++;
      const inner = or(depth + 1, inValuePath);
      expect(")", "')'");
      return inner;
    }
    if (isWord(token, "not") && tokens[next + 1]?.kind === "(") {
      next += 2;
      const inner = or(depth + 1, inValuePath);
      expect(")", "')'");
      return { kind: "not", filter: inner };
    }
    if (token?.kind !== "word") return fail("expected an attribute path");
    next++;
    const path = parseAttributePath(token.text, problem);
    if (inValuePath && (path.urn !== undefined || path.sub !== undefined)) fail("inside [ ] only sub-attribute names may be used", token);
    if (peek()?.kind === "[") {
      if (inValuePath) fail("a value filter cannot nest another");
      if (path.sub !== undefined) fail("a value filter applies to an attribute, not a sub-attribute", token);
      next++;
      const inner = or(depth + 1, true);
      expect("]", "']'");
      // `emails[type eq "work"].value eq "x"` (an identity provider's matching attribute) reads as `emails[type eq "work" and value eq "x"]`.
      const sub = peek();
      if (sub?.kind === "sub") {
        next++;
        return { kind: "valuePath", path, filter: { kind: "and", left: inner, right: comparison({ name: sub.text }) } };
      }
      return { kind: "valuePath", path, filter: inner };
    }
    return comparison(path);
  }

  function comparison(path: AttributePath): FilterNode {
    const operator = peek();
    const op = operator?.kind === "word" ? operator.text.toLowerCase() : "";
    if (op === "pr") {
      next++;
      return { kind: "present", path };
    }
    if (!COMPARISON_OPERATORS.has(op)) return fail("expected an operator (eq ne co sw ew gt ge lt le pr)");
    next++;
    const token = peek();
    let value: FilterLiteral;
    if (token?.kind === "literal") value = token.value;
    else if (isWord(token, "true")) value = true;
    else if (isWord(token, "false")) value = false;
    else if (isWord(token, "null")) value = null;
    else return fail("expected a value (a string, number, true, false or null)");
    if ((op === "gt" || op === "ge" || op === "lt" || op === "le") && (typeof value === "boolean" || value === null))
      fail(`'${op}' cannot compare with ${String(value)}`);
    if ((op === "co" || op === "sw" || op === "ew") && typeof value !== "string") fail(`'${op}' needs a string value`);
    next++;
    return { kind: "compare", path, op: op as ComparisonOperator, value };
  }

  return {
    tokens,
    peek,
    fail,
    or,
    get position() {
      return next;
    },
    set position(to: number) {
      next = to;
    },
  };
}

/** Parses an RFC 7644 §3.4.2.2 filter; operators, keywords and attribute names are case-insensitive. */
export function parseFilter(text: string): FilterNode {
  if (typeof text !== "string" || text.trim() === "") throw new ScimProblem("invalidFilter", "the filter is empty");
  const parser = createParser(text, "invalidFilter");
  const node = parser.or(0, false);
  if (parser.peek()) parser.fail("unexpected input");
  return node;
}

/** A PATCH path (RFC 7644 §3.5.2): `attrPath`, or `attr[filter]` optionally followed by `.subAttr`. */
export interface PatchPath {
  attribute: AttributePath;
  filter?: FilterNode;
  /** The sub-attribute after a value filter: `value` in `emails[type eq "work"].value`. */
  sub?: string;
}

export function parsePath(text: string): PatchPath {
  if (typeof text !== "string" || text.trim() === "") throw new ScimProblem("invalidPath", "the path is empty");
  const parser = createParser(text, "invalidPath");
  const [first, second] = parser.tokens;
  // Stryker disable next-line OptionalChaining: equivalent: text that is not blank always makes a token or throws, so there is a first
  if (first?.kind !== "word") return parser.fail("expected an attribute path", first);
  const attribute = parseAttributePath(first.text, "invalidPath");
  if (!second) return { attribute };
  if (second.kind !== "[" || attribute.sub !== undefined) return parser.fail("unexpected input", second);
  parser.position = 2;
  const filter = parser.or(0, true);
  if (parser.peek()?.kind !== "]") parser.fail("expected ']'");
  parser.position += 1;
  const sub = parser.peek();
  if (sub === undefined) return { attribute, filter };
  if (sub.kind !== "sub" || parser.tokens.length > parser.position + 1) return parser.fail("unexpected input", sub);
  return { attribute, filter, sub: sub.text };
}

// ---- evaluation ------------------------------------------------------------------------------

/** The value of `name` in a plain object, found case-insensitively (resources are stored as sent). */
export function readCaseInsensitive(object: unknown, name: string): unknown {
  if (typeof object !== "object" || object === null || Array.isArray(object)) return undefined;
  const record = object as Record<string, unknown>;
  if (name in record) return record[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(record)) if (key.toLowerCase() === lower) return record[key];
  return undefined;
}

/** RFC 7643 §2.5: null, "", [] and {} are all unassigned. */
export function isUnassigned(value: unknown): boolean {
  if (value === undefined || value === null || value === "") return true;
  if (Array.isArray(value)) return value.every(isUnassigned);
  if (typeof value === "object") return Object.values(value).every(isUnassigned);
  return false;
}

const SCHEMAS_ATTRIBUTE: AttributeDefinition = {
  name: "schemas",
  type: "reference",
  multiValued: true,
  description: "The schema URIs the resource uses.",
  required: true,
  caseExact: false,
  mutability: "readOnly",
  returned: "always",
  uniqueness: "none",
};

const asList = (value: unknown): unknown[] => (value === undefined || value === null ? [] : Array.isArray(value) ? value : [value]);

/** An attribute path resolved against a schema: canonical names and the definitions a SQL translator needs. */
export interface ResolvedPath {
  /** The URN of the schema holding the attribute; the core schema's for id, externalId, meta and schemas. */
  schema: string;
  /** Whether the attribute is stored under its extension's URN rather than at the top of the resource. */
  extension: boolean;
  attribute: AttributeDefinition;
  sub?: AttributeDefinition;
}

/** A filter whose paths are resolved and whose comparisons are checked against the schema. */
export type ResolvedFilter =
  | { kind: "compare"; path: ResolvedPath; op: ComparisonOperator; value: FilterLiteral }
  | { kind: "present"; path: ResolvedPath }
  | { kind: "and"; left: ResolvedFilter; right: ResolvedFilter }
  | { kind: "or"; left: ResolvedFilter; right: ResolvedFilter }
  | { kind: "not"; filter: ResolvedFilter }
  /** The inner filter's paths carry this path's attribute and, as `sub`, the element's sub-attribute. */
  | { kind: "valuePath"; path: ResolvedPath; filter: ResolvedFilter };

type Scope = { resourceType: ScimResourceType } | { element: ResolvedPath };

function resolvePath(path: AttributePath, scope: Scope): ResolvedPath {
  if ("element" in scope) {
    const sub = findAttribute(scope.element.attribute.subAttributes ?? [], path.name);
    if (!sub) throw new ScimProblem("invalidFilter", `'${scope.element.attribute.name}' has no sub-attribute '${path.name}'`);
    return { ...scope.element, sub };
  }
  const { resourceType } = scope;
  // `schemas eq "urn:…:enterprise:2.0:User"` (RFC 7644 §3.4.2.2): an attribute of every resource that no schema lists.
  if (path.urn === undefined && path.sub === undefined && path.name.toLowerCase() === "schemas")
    return { schema: resourceType.schema.id, extension: false, attribute: SCHEMAS_ATTRIBUTE };
  const found = resolveAttribute(resourceType, path.urn, path.name);
  if (!found) throw new ScimProblem("invalidFilter", `'${formatAttributePath(path)}' is not an attribute of ${resourceType.name}`);
  // Filtering on a password would let a client guess it one prefix at a time (`password sw "a"`).
  if (found.attribute.returned === "never")
    throw new ScimProblem("invalidFilter", `'${found.attribute.name}' is never returned, so it cannot be filtered on`);
  const resolved = { schema: found.schema.id, extension: found.schema !== resourceType.schema, attribute: found.attribute };
  if (path.sub === undefined) return resolved;
  const sub = findAttribute(found.attribute.subAttributes ?? [], path.sub);
  if (!sub) throw new ScimProblem("invalidFilter", `'${found.attribute.name}' has no sub-attribute '${path.sub}'`);
  return { ...resolved, sub };
}

function resolveIn(node: FilterNode, scope: Scope): ResolvedFilter {
  switch (node.kind) {
    case "and":
    case "or":
      return { kind: node.kind, left: resolveIn(node.left, scope), right: resolveIn(node.right, scope) };
    case "not":
      return { kind: "not", filter: resolveIn(node.filter, scope) };
    case "present":
      return { kind: "present", path: resolvePath(node.path, scope) };
    case "valuePath": {
      const path = resolvePath(node.path, scope);
      if (path.sub || path.attribute.type !== "complex")
        throw new ScimProblem("invalidFilter", `'${formatAttributePath(node.path)}' is not complex: a value filter [ ] does not apply`);
      return { kind: "valuePath", path, filter: resolveIn(node.filter, { element: path }) };
    }
    case "compare": {
      let path = resolvePath(node.path, scope);
      // `emails co "@example.com"` compares the emails' values (RFC 7644 §3.4.2.2's example).
      const value = path.attribute.multiValued && !path.sub ? findAttribute(path.attribute.subAttributes ?? [], "value") : undefined;
      if (value) path = { ...path, sub: value };
      // Refuses a combination the RFC refuses (gt on a boolean, eq on a complex attribute) before any data is read.
      if (node.value !== null) compareOne(undefined, node.op === "ne" ? "eq" : node.op, node.value, path.sub ?? path.attribute);
      return { kind: "compare", path, op: node.op, value: node.value };
    }
  }
}

/**
 * Resolves and checks a filter against a resource type: canonical attribute names, their
 * definitions (type, caseExact, multiValued), and where they are stored. Throws
 * ScimProblem("invalidFilter") for an unknown attribute or a comparison the RFC refuses, so a
 * service can refuse a filter before it queries anything.
 */
export function resolveFilter(node: FilterNode, resourceType: ScimResourceType): ResolvedFilter {
  return resolveIn(node, { resourceType });
}

/** A filter written back as text that parseFilter reads as the same tree (for logs and cursors). */
export function formatFilter(node: FilterNode): string {
  switch (node.kind) {
    case "and":
    case "or":
      return `(${formatFilter(node.left)} ${node.kind} ${formatFilter(node.right)})`;
    case "not":
      return `not (${formatFilter(node.filter)})`;
    case "present":
      return `${formatAttributePath(node.path)} pr`;
    case "valuePath":
      return `${formatAttributePath(node.path)}[${formatFilter(node.filter)}]`;
    case "compare":
      return `${formatAttributePath(node.path)} ${node.op} ${JSON.stringify(node.value)}`;
  }
}

export function formatAttributePath(path: AttributePath): string {
  return `${path.urn !== undefined ? `${path.urn}:` : ""}${path.name}${path.sub !== undefined ? `.${path.sub}` : ""}`;
}

const DATE_TIME = /^(-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$/i;

/** An xsd:dateTime as epoch milliseconds (no zone means UTC); NaN when it is not one. */
export function instantOf(value: unknown): number {
  const parts = typeof value === "string" ? DATE_TIME.exec(value) : null;
  if (!parts) return Number.NaN;
  const millis = (parts[2] ?? "").padEnd(3, "0").slice(0, 3);
  // Stryker disable next-line MethodExpression: equivalent: Date.parse reads a lower-case "z" as UTC too
  return Date.parse(`${parts[1]}.${millis}${(parts[3] ?? "Z").toUpperCase()}`);
}

function booleanOf(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value === "string" && /^(true|false)$/i.test(value)) return value.toLowerCase() === "true";
  return undefined;
}

/** One stored value against a literal; `ne` is handled by the caller as "not eq". */
function compareOne(
  stored: unknown,
  op: Exclude<ComparisonOperator, "ne">,
  literal: FilterLiteral,
  definition: AttributeDefinition,
): boolean {
  switch (definition.type) {
    case "boolean": {
      if (op !== "eq") throw new ScimProblem("invalidFilter", `'${op}' cannot compare the boolean '${definition.name}'`);
      const want = booleanOf(literal);
      return want !== undefined && booleanOf(stored) === want;
    }
    case "integer":
    case "decimal": {
      if (op === "co" || op === "sw" || op === "ew")
        throw new ScimProblem("invalidFilter", `'${op}' cannot compare the number '${definition.name}'`);
      if (typeof literal !== "number" || typeof stored !== "number") return false;
      return ordered(stored, literal, op);
    }
    case "dateTime": {
      if (op === "co" || op === "sw" || op === "ew") return compareText(stored, op, literal, true);
      const want = instantOf(literal);
      if (Number.isNaN(want))
        throw new ScimProblem("invalidFilter", `'${String(literal)}' is not a dateTime to compare '${definition.name}' with`);
      const have = instantOf(stored);
      return !Number.isNaN(have) && ordered(have, want, op);
    }
    case "complex":
      throw new ScimProblem("invalidFilter", `'${definition.name}' is complex: compare one of its sub-attributes`);
    case "binary":
      // RFC 7644 §3.4.2.2: gt, ge, lt and le on a binary attribute are an invalidFilter.
      if (op !== "eq" && op !== "co" && op !== "sw" && op !== "ew")
        throw new ScimProblem("invalidFilter", `'${op}' cannot compare the binary '${definition.name}'`);
      return op === "eq" ? stored === literal : compareText(stored, op, literal, true);
    default:
      if (op === "co" || op === "sw" || op === "ew") return compareText(stored, op, literal, definition.caseExact);
      if (typeof stored !== "string" || typeof literal !== "string") return false;
      return definition.caseExact ? ordered(stored, literal, op) : ordered(stored.toLowerCase(), literal.toLowerCase(), op);
  }
}

function compareText(stored: unknown, op: "co" | "sw" | "ew", literal: FilterLiteral, caseExact: boolean): boolean {
  if (typeof stored !== "string" || typeof literal !== "string") return false;
  const [have, want] = caseExact ? [stored, literal] : [stored.toLowerCase(), literal.toLowerCase()];
  return op === "co" ? have.includes(want) : op === "sw" ? have.startsWith(want) : have.endsWith(want);
}

function ordered<T extends number | string>(have: T, want: T, op: "eq" | "gt" | "ge" | "lt" | "le"): boolean {
  switch (op) {
    case "eq":
      return have === want;
    case "gt":
      return have > want;
    case "ge":
      return have >= want;
    case "lt":
      return have < want;
    case "le":
      return have <= want;
  }
}

/** The values a path reaches: in the resource, or inside a value filter in the one element being tried. */
function valuesAt(path: ResolvedPath, resource: unknown, element: { at: unknown } | undefined): unknown[] {
  if (element) return asList(readCaseInsensitive(element.at, path.sub!.name));
  const container = path.extension ? readCaseInsensitive(resource, path.schema) : resource;
  const values = asList(readCaseInsensitive(container, path.attribute.name));
  const sub = path.sub;
  return sub ? values.flatMap((value) => asList(readCaseInsensitive(value, sub.name))) : values;
}

function evaluate(node: ResolvedFilter, resource: unknown, element: { at: unknown } | undefined): boolean {
  switch (node.kind) {
    case "and":
      return evaluate(node.left, resource, element) && evaluate(node.right, resource, element);
    case "or":
      return evaluate(node.left, resource, element) || evaluate(node.right, resource, element);
    case "not":
      return !evaluate(node.filter, resource, element);
    case "present":
      return valuesAt(node.path, resource, element).some((value) => !isUnassigned(value));
    case "valuePath":
      return valuesAt(node.path, resource, element).some((at) => evaluate(node.filter, resource, { at }));
    case "compare": {
      const assigned = valuesAt(node.path, resource, element).filter((value) => !isUnassigned(value));
      const { value } = node;
      // `eq null` asks for an unassigned attribute; the parser lets null reach only eq and ne.
      if (value === null) return (node.op === "eq") === (assigned.length === 0);
      // `ne` is "not eq": for a multi-valued attribute, true when no value equals the literal.
      const op = node.op === "ne" ? "eq" : node.op;
      const definition = node.path.sub ?? node.path.attribute;
      const any = assigned.some((stored) => compareOne(stored, op, value, definition));
      return node.op === "ne" ? !any : any;
    }
  }
}

/** Whether a resource matches a filter already resolved (resolve once, match every resource of a list). */
export function matchesResolvedFilter(node: ResolvedFilter, resource: unknown): boolean {
  return evaluate(node, resource, undefined);
}

/**
 * Whether a resource matches a filter, honouring each attribute's type and caseExact
 * (userName matches case-insensitively), dateTimes by instant, and multi-valued attributes
 * by any value. Throws ScimProblem("invalidFilter") for unknown attributes and for
 * comparisons the RFC refuses (`gt` on a boolean, `eq` on a complex attribute).
 */
export function matchesFilter(node: FilterNode, resource: unknown, resourceType: ScimResourceType): boolean {
  return evaluate(resolveFilter(node, resourceType), resource, undefined);
}

/** Whether one element of a multi-valued complex attribute matches a value filter's inner filter (PATCH paths). */
export function matchesElement(node: FilterNode, element: unknown, attribute: AttributeDefinition): boolean {
  // Stryker disable next-line StringLiteral,BooleanLiteral: equivalent: inside an element only the sub-attribute is read, never the schema or where it is stored
  const outer: ResolvedPath = { schema: "", extension: false, attribute };
  return evaluate(resolveIn(node, { element: outer }), undefined, { at: element });
}
