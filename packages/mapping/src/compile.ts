/**
 * A JSONata-to-JavaScript compiler for the subset record mappings use: paths, object and array
 * constructors, conditions, `=` `!=` `and` `or`, blocks with `:=` bindings, and the functions
 * $lookup $join $exists $append $count. The interpreter evaluates every node asynchronously
 * and costs 40–115 µs per record here; a compiled mapping is a plain synchronous function.
 *
 * Semantics follow jsonata 2.x's evaluator (sequences, singleton collapsing, flattening,
 * undefined propagation, boolean casting). Anything outside the subset throws Unsupported
 * and the caller keeps the interpreter. test/compile.test.ts checks both give the same output.
 */

export class Unsupported extends Error {}

type Value = unknown;
/**
 * Variable scope: a block's own bindings and its parent's frame. (Frames chained as prototypes
 * were a third of a record's time: V8 makes every object used as a prototype slow to create.)
 */
interface Frame {
  vars: Record<string, Value>;
  parent: Frame | undefined;
}
const frameUnder = (parent: Frame | undefined): Frame => ({ vars: Object.create(null) as Record<string, Value>, parent });
type Compiled = (input: Value, frame: Frame) => Value;

/** An AST node as jsonata's parser produces it (only the fields read here). */
interface Node {
  type: string;
  value?: unknown;
  steps?: Node[];
  expressions?: Node[];
  lhs?: Node | Node[][];
  rhs?: Node;
  condition?: Node;
  then?: Node;
  else?: Node;
  procedure?: Node;
  arguments?: Node[];
  stages?: unknown;
  predicate?: unknown;
  group?: unknown;
  tuple?: unknown;
  focus?: unknown;
  index?: unknown;
  keepSingletonArray?: boolean;
  keepArray?: boolean;
  consarray?: boolean;
}

const SEQUENCE = Symbol("sequence");
const CONS = Symbol("cons");
type Sequence = Value[] & { [SEQUENCE]?: true; [CONS]?: true };

const sequence = (...items: Value[]): Sequence => {
  (items as Sequence)[SEQUENCE] = true;
  return items;
};
const isSequence = (v: Value): v is Sequence => Array.isArray(v) && (v as Sequence)[SEQUENCE] === true;

/** What the interpreter does after every evaluation: an empty sequence is nothing, a singleton its item. */
function collapse(v: Value): Value {
  if (!isSequence(v)) return v;
  if (v.length === 0) return undefined;
  return v.length === 1 ? v[0] : v;
}

function lookup(input: Value, key: string): Value {
  if (Array.isArray(input)) {
    const out = sequence();
    for (const item of input) {
      const found = lookup(item, key);
      if (found === undefined) continue;
      if (Array.isArray(found)) out.push(...found);
      else out.push(found);
    }
    return out;
  }
  if (input !== null && typeof input === "object") return (input as Record<string, Value>)[key];
  return undefined;
}

/** jsonata's $boolean: undefined stays undefined (treated as false by callers). */
function toBoolean(v: Value): boolean | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) {
    if (v.length === 1) return toBoolean(v[0]);
    return v.length > 1 ? v.some((item) => toBoolean(item) === true) : false;
  }
  if (typeof v === "string") return v.length > 0;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "boolean") return v;
  if (v === null) return false;
  if (typeof v === "object") return Object.keys(v).length > 0;
  return false;
}

function deepEqual(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, Value>)[k], (b as Record<string, Value>)[k]));
}

function append(a: Value, b: Value): Value {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const left = Array.isArray(a) ? a : sequence(a);
  return left.concat(Array.isArray(b) ? b : [b]);
}

/** A type error the interpreter would report (its own message is what callers see: see index.ts). */
class MappingTypeError extends Error {}

const functions: Record<string, (args: Value[], input: Value) => Value> = {
  lookup: ([obj, key]) => collapse(lookup(obj, String(key))),
  exists: ([v]) => v !== undefined,
  count: ([v]) => (v === undefined ? 0 : Array.isArray(v) ? v.length : 1),
  append: ([a, b]) => append(a, b),
  join: ([strings, separator]) => {
    if (strings === undefined) return undefined;
    const list = Array.isArray(strings) ? strings : [strings];
    if (!list.every((s) => typeof s === "string")) throw new MappingTypeError("T0412: $join takes an array of strings");
    return list.join(separator === undefined ? "" : String(separator));
  },
};

function compileNode(node: Node): Compiled {
  if (node.stages || node.predicate || node.group || node.tuple || node.focus || node.index || node.keepSingletonArray || node.keepArray) {
    // Stryker disable next-line StringLiteral: equivalent, the reason is for a reader; compileToFunction answers only undefined.
    throw new Unsupported(`${node.type} with predicates, grouping or focus`);
  }
  switch (node.type) {
    case "string":
    case "number":
    case "value": {
      const constant = node.value;
      return () => constant;
    }
    case "variable": {
      const name = String(node.value);
      if (name === "") return (input) => input;
      return (_input, frame) => {
        for (let scope: Frame | undefined = frame; scope; scope = scope.parent) if (name in scope.vars) return scope.vars[name];
        return undefined;
      };
    }
    case "name": {
      const key = String(node.value);
      return (input) => collapse(lookup(input, key));
    }
    case "path":
      return compilePath(node);
    case "condition": {
      const test = compileNode(node.condition!);
      const then = compileNode(node.then!);
      const otherwise = node.else ? compileNode(node.else) : undefined;
      return (input, frame) => (toBoolean(test(input, frame)) ? then(input, frame) : otherwise?.(input, frame));
    }
    case "binary":
      return compileBinary(node);
    case "unary":
      if (node.value === "[") return compileArray(node);
      if (node.value === "{") return compileObject(node);
      // Stryker disable next-line StringLiteral: equivalent, the reason is for a reader; compileToFunction answers only undefined.
      throw new Unsupported(`unary ${String(node.value)}`);
    case "block": {
      const body = (node.expressions ?? []).map(compileNode);
      return (input, frame) => {
        const scope = frameUnder(frame);
        let last: Value;
        for (const expression of body) last = expression(input, scope);
        return last;
      };
    }
    case "bind": {
      const name = String((node.lhs as Node).value);
      const value = compileNode(node.rhs!);
      return (input, frame) => {
        const v = value(input, frame);
        frame.vars[name] = v;
        return v;
      };
    }
    case "function": {
      const procedure = node.procedure;
      const name = procedure?.type === "variable" ? String(procedure.value) : "";
      const fn = functions[name];
      // Stryker disable next-line StringLiteral: equivalent, the reason is for a reader; compileToFunction answers only undefined.
      if (!fn) throw new Unsupported(`function $${name}`);
      const args = (node.arguments ?? []).map(compileNode);
      return (input, frame) => {
        const values: Value[] = new Array(args.length);
        for (let i = 0; i < args.length; i++) values[i] = (args[i] as Compiled)(input, frame);
        return fn(values, input);
      };
    }
    default:
      throw new Unsupported(node.type);
  }
}

function compilePath(node: Node): Compiled {
  const stepNodes = node.steps ?? [];
  const steps = stepNodes.map((step) => {
    // Stryker disable next-line StringLiteral: equivalent, the reason is for a reader; compileToFunction answers only undefined.
    if (step.stages || step.tuple || step.focus || step.index || step.group) throw new Unsupported("path step with predicates or binding");
    return compileNode(step);
  });
  const firstIsVariable = stepNodes[0]?.type === "variable";
  const general: Compiled = (input, frame) => {
    let current: Value[] = Array.isArray(input) && !firstIsVariable ? input : [input];
    let result: Sequence = sequence();
    for (let index = 0; index < steps.length; index++) {
      const step = steps[index] as Compiled;
      result = sequence();
      let produced = 0;
      let only: Value;
      for (let k = 0; k < current.length; k++) {
        const value = step(current[k], frame);
        if (value === undefined) continue;
        if (++produced === 1) only = value;
        if (!Array.isArray(value) || (value as Sequence)[CONS]) result.push(value);
        else for (let j = 0; j < value.length; j++) result.push(value[j]);
      }
      // The interpreter keeps a single array produced by the last step as it is.
      if (index === steps.length - 1 && produced === 1 && Array.isArray(only) && !isSequence(only)) return only;
      if (result.length === 0) break;
      current = result;
    }
    return collapse(result);
  };
  // Most paths are plain property hops (`name.givenName`, `meta.created`), or hops from a
  // variable (`$enterprise.manager.value`), over objects: read them directly, and leave the
  // sequence machinery to paths that meet an array on the way.
  // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator: equivalent, a first name step taken as the start reads the same, and a variable left among the hops leaves the path to general().
  const fromVariable = firstIsVariable && stepNodes.length > 1;
  // Stryker disable next-line MethodExpression: equivalent, a variable left among the hops leaves the path to general().
  const hops = fromVariable ? stepNodes.slice(1) : stepNodes;
  // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, with the fast path off general() answers the same.
  if (hops.length > 0 && hops.every((step) => step.type === "name")) {
    const keys = hops.map((step) => String(step.value));
    const start = fromVariable ? (steps[0] as Compiled) : undefined;
    return (input, frame) => {
      let value: Value = start ? start(input, frame) : input;
      for (const key of keys) {
        if (value === null || typeof value !== "object" || Array.isArray(value)) return general(input, frame);
        value = (value as Record<string, Value>)[key];
        if (value === undefined) return undefined;
      }
      return value;
    };
  }
  return general;
}

function compileBinary(node: Node): Compiled {
  const left = compileNode(node.lhs as Node);
  const right = compileNode(node.rhs!);
  switch (node.value) {
    case "=":
    case "!=": {
      const equal = node.value === "=";
      return (input, frame) => {
        const a = left(input, frame);
        const b = right(input, frame);
        if (a === undefined || b === undefined) return false;
        return deepEqual(a, b) === equal;
      };
    }
    case "and":
      return (input, frame) => toBoolean(left(input, frame)) === true && toBoolean(right(input, frame)) === true;
    case "or":
      return (input, frame) => toBoolean(left(input, frame)) === true || toBoolean(right(input, frame)) === true;
    default:
      // Stryker disable next-line StringLiteral: equivalent, the reason is for a reader; compileToFunction answers only undefined.
      throw new Unsupported(`operator ${String(node.value)}`);
  }
}

function compileArray(node: Node): Compiled {
  // The interpreter keeps a nested item whole when its node's value is "[" (an array constructor).
  const items = (node.expressions ?? []).map((expression) => ({ nested: expression.value === "[", run: compileNode(expression) }));
  const cons = node.consarray === true;
  return (input, frame) => {
    const out: Value[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      const value = item.run(input, frame);
      if (value === undefined) continue;
      // What $append does, without a new array per item: arrays are spread, anything else added.
      if (item.nested || !Array.isArray(value)) out.push(value);
      else for (let j = 0; j < value.length; j++) out.push(value[j]);
    }
    if (cons) (out as Sequence)[CONS] = true;
    return out;
  };
}

function compileObject(node: Node): Compiled {
  const pairs = (node.lhs as Node[][]).map(([key, value]) => {
    if (key?.type !== "string") throw new Unsupported("computed object keys");
    return { key: String(key.value), value: compileNode(value!) };
  });
  // The interpreter refuses a key given twice (D1009), and an assigned "__proto__" would set the
  // prototype rather than a key: both are left to it.
  if (new Set(pairs.map((pair) => pair.key)).size !== pairs.length) throw new Unsupported("a repeated object key");
  if (pairs.some((pair) => pair.key === "__proto__")) throw new Unsupported('an object key "__proto__"');
  return objectWithFixedKeys(pairs);
}

/**
 * An object constructor, generated as straight-line code with the keys as literals, so V8 stores each property by name instead of through a keyed store with a
 * different key each time (the slowest part of a mapping before). Keys are JSON-escaped.
 */
function objectWithFixedKeys(pairs: { key: string; value: Compiled }[]): Compiled {
  const body = pairs.map((pair, i) => `v = values[${i}](input, frame); if (v !== undefined) out[${JSON.stringify(pair.key)}] = v;`);
  const build = new Function(
    "values",
    "Unsupported",
    `return function object(input, frame) {
      if (Array.isArray(input)) throw new Unsupported("object constructor over an array input");
      const out = {};
      let v;
      ${body.join("\n      ")}
      return out;
    };`,
  ) as (values: Compiled[], unsupported: typeof Unsupported) => Compiled;
  return build(
    pairs.map((pair) => pair.value),
    Unsupported,
  );
}

/** A compiled record mapping, or undefined when the expression leaves the subset. */
export function compileToFunction(ast: unknown): ((input: Value) => Value) | undefined {
  let compiled: Compiled;
  try {
    compiled = compileNode(ast as Node);
  } catch (error) {
    if (error instanceof Unsupported) return undefined;
    throw error;
  }
  return (input) => compiled(input, frameUnder(undefined));
}
