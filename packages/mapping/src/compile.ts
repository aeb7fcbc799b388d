/**
 * A JSONata-to-JavaScript compiler for the subset record mappings use: paths, object and array
 * constructors, conditions, `=` `!=` `and` `or`, blocks with `:=` bindings, and the functions
 * $lookup $join $exists $append $count. The interpreter evaluates every node asynchronously
 * and costs 40–115 µs per record here; a compiled mapping is one plain synchronous function,
 * generated as JavaScript source: straight-line code with a local variable per intermediate
 * value and per binding, so V8 optimises a mapping as it would hand-written code (a closure per
 * node and a frame object per block cost more than the mapping's own work).
 *
 * Semantics follow jsonata 2.x's evaluator (sequences, singleton collapsing, flattening,
 * undefined propagation, boolean casting). Anything outside the subset throws Unsupported
 * and the caller keeps the interpreter. test/compile.test.ts checks both give the same output.
 * The source is built from the parser's node types and from literals written by JSON.stringify
 * only: a mapping's names never become identifiers.
 */

export class Unsupported extends Error {}

type Value = unknown;

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

const sequence = (): Sequence => {
  const items: Sequence = [];
  items[SEQUENCE] = true;
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

/** jsonata's $boolean, nothing (undefined) being false. */
function toBoolean(v: Value): boolean {
  if (typeof v === "boolean") return v;
  if (typeof v === "string") return v.length > 0;
  if (typeof v === "number") return v !== 0;
  if (Array.isArray(v)) return v.some(toBoolean);
  // An object is true when it has a key; null and nothing are false.
  return v !== null && typeof v === "object" && Object.keys(v).length > 0;
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

/** An array constructor's item into the array: what $append does, without a new array per item. */
function pushItem(out: Value[], value: Value): void {
  if (!Array.isArray(value)) out.push(value);
  else for (let j = 0; j < value.length; j++) out.push(value[j]);
}

/** jsonata's $append: always a new plain array (a loop of pushes: Array.prototype.concat was a sixth of one vendor's record). */
function append(a: Value, b: Value): Value {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const out: Value[] = [];
  pushItem(out, a);
  pushItem(out, b);
  return out;
}

/** A type error the interpreter would report (its own message is what callers see: see index.ts). */
class MappingTypeError extends Error {}

function join(strings: Value, separator: Value): Value {
  // The interpreter checks the arguments' types first, even with nothing to join.
  // Stryker disable next-line StringLiteral: equivalent, the compiled form's errors send the record to the interpreter, whose message is the one reported.
  if (separator !== undefined && typeof separator !== "string") throw new MappingTypeError("T0410: $join's separator is a string");
  if (strings === undefined) return undefined;
  if (typeof strings === "string") return strings;
  // Stryker disable next-line StringLiteral: equivalent, as above.
  if (!Array.isArray(strings)) throw new MappingTypeError("T0412: $join takes an array of strings");
  const between = separator ?? "";
  // Concatenation, not Array.prototype.join: a name's two parts are joined per record, and join
  // flattens the result into a new string at once, where `+` leaves that to whoever reads it.
  let joined = "";
  for (let i = 0; i < strings.length; i++) {
    const s: Value = strings[i];
    // Stryker disable next-line StringLiteral: equivalent, as above.
    if (typeof s !== "string") throw new MappingTypeError("T0412: $join takes an array of strings");
    joined = i === 0 ? s : joined + between + s;
  }
  return joined;
}

/** A path step's value into the step's result: an array is spread unless an array constructor made it. */
function pushStep(result: Sequence, value: Value): void {
  if (!Array.isArray(value) || (value as Sequence)[CONS]) result.push(value);
  else for (let j = 0; j < value.length; j++) result.push(value[j]);
}

/**
 * A path of names as the interpreter runs it (the general code of sequencePath(), for name
 * steps only): what a path read straight through objects falls back to when it meets anything else.
 * `start` is the path's input, or the value of the variable it starts from.
 */
function namePath(start: Value, fromVariable: boolean, keys: string[]): Value {
  // A variable's value is a step's value: spread unless an array constructor made it.
  // Stryker disable next-line ConditionalExpression,LogicalOperator,BooleanLiteral: equivalent, a name looked up over an array constructor's array reads each item, as over its items one by one.
  let items: Value[] | undefined = Array.isArray(start) && !(fromVariable && (start as Sequence)[CONS]) ? start : undefined;
  let single: Value = start;
  // Stryker disable next-line EqualityOperator: equivalent, the last step returns.
  for (let index = 0; index < keys.length; index++) {
    let produced = 0;
    let only: Value;
    let result: Sequence | undefined;
    for (let k = 0, end = items === undefined ? 1 : items.length; k < end; k++) {
      const value = collapse(lookup(items === undefined ? single : items[k], keys[index]!));
      if (value === undefined) continue;
      if (++produced === 1) {
        only = value;
        continue;
      }
      if (produced === 2) pushStep((result = sequence()), only);
      pushStep(result!, value);
    }
    // The interpreter keeps a single array produced by the last step as it is. (Nothing produced
    // leaves `only` undefined, and the steps after it find nothing.)
    if (index === keys.length - 1) return produced > 1 ? collapse(result) : isSequence(only) ? collapse(only) : only;
    if (produced > 1) items = result;
    else if (Array.isArray(only) && !(only as Sequence)[CONS]) items = only;
    else [items, single] = [undefined, only];
  }
  return undefined;
}

/** What the generated code calls, by these names. */
const runtime = {
  collapse,
  lookup,
  toBoolean,
  deepEqual,
  append,
  join,
  pushStep,
  pushItem,
  namePath,
  sequence,
  isSequence,
  Unsupported,
  CONS,
  UNSET: Symbol("unset"),
};

/** The function calls compiled, each as an expression over its arguments' variables. */
const functions = new Map<string, { arity: number[]; call: (args: string[]) => string }>([
  ["lookup", { arity: [2], call: ([obj, key]) => `collapse(lookup(${obj}, String(${key})))` }],
  ["exists", { arity: [1], call: ([v]) => `${v} !== undefined` }],
  ["count", { arity: [1], call: ([v]) => `${v} === undefined ? 0 : Array.isArray(${v}) ? ${v}.length : 1` }],
  ["append", { arity: [2], call: ([a, b]) => `append(${a}, ${b})` }],
  // Stryker disable next-line StringLiteral: equivalent, an empty last argument is undefined too.
  ["join", { arity: [1, 2], call: ([strings, separator = "undefined"]) => `join(${strings}, ${separator})` }],
]);

/**
 * JSONata's own functions (jsonata 2.x's static frame, and $now and $millis): a mapping that
 * reads one as a value, not a call, gets a function the compiled form has no equivalent for.
 */
const BUILT_INS = new Set(
  (
    "sum count max min average string substring substringBefore substringAfter lowercase uppercase length trim pad match " +
    "contains replace split join formatNumber formatBase formatInteger parseInteger number floor ceil round abs sqrt power " +
    "random boolean not map zip filter single reduce sift keys lookup append exists spread merge reverse each error assert " +
    "type sort shuffle distinct base64encode base64decode encodeUrlComponent encodeUrl decodeUrlComponent decodeUrl eval " +
    "toMillis fromMillis clone now millis"
  ).split(" "),
);

/** The JavaScript variable of each name a block binds (its own bindings, not its inner blocks'). */
interface Scope {
  vars: Map<string, string>;
  parent: Scope | undefined;
}

/** The names bound directly in these expressions: anywhere inside them but in an inner block. */
function boundNames(nodes: (Node | undefined)[], into = new Set<string>()): Set<string> {
  for (const node of nodes) {
    if (!node || node.type === "block") continue;
    if (node.type === "bind") into.add(String((node.lhs as Node).value));
    const lhs = Array.isArray(node.lhs) ? node.lhs.flat() : [node.lhs];
    const children = [...(node.steps ?? []), ...(node.expressions ?? []), ...lhs, node.rhs, node.condition, node.then, node.else];
    boundNames([...children, ...(node.arguments ?? [])], into);
  }
  return into;
}

/**
 * Writes a mapping's JavaScript. Each node's code is appended to `lines` and leaves its value in
 * a fresh variable (or a literal), whose name `node()` returns; a node's children are evaluated
 * in the interpreter's order, and only when the interpreter would evaluate them.
 */
class Generator {
  /** Constants made once per mapping, before its function. */
  readonly prelude: string[] = [];
  private readonly lines: string[] = [];
  private count = 0;
  /** Whether `$$` (the mapping's input) is read. */
  private readsRoot = false;

  private fresh(prefix = "t"): string {
    return `${prefix}${this.count++}`;
  }

  private emit(line: string): void {
    this.lines.push(line);
  }

  /** A constant made once, from JavaScript source built by JSON.stringify. */
  private constant(source: string): string {
    const c = this.fresh("c");
    this.prelude.push(`const ${c} = ${source};`);
    return c;
  }

  /** The body of `function mapping(root)`. */
  program(ast: Node): string {
    const scope = this.scope(boundNames([ast]), undefined);
    const result = this.node(ast, "root", scope);
    this.emit(`return ${result};`);
    // The interpreter's `$$` over an array is that array as a sequence: left to it.
    if (this.readsRoot) this.lines.unshift('if (Array.isArray(root)) throw new Unsupported("$$ over an array input");');
    // Stryker disable next-line StringLiteral: equivalent, no line ends in a comment.
    return this.lines.join("\n");
  }

  /**
   * Declares a block's variables. A variable starts unset, so that a read before the block binds
   * it sees an outer block's binding; one that no outer block binds reads as undefined instead.
   */
  private scope(names: Set<string>, parent: Scope | undefined): Scope {
    const vars = new Map<string, string>();
    for (const name of names) {
      const v = this.fresh("v");
      this.emit(`let ${v} = ${this.bindings(name, parent).length > 0 ? "UNSET" : "undefined"};`);
      vars.set(name, v);
    }
    return { vars, parent };
  }

  /** The variables that hold `name`, innermost first. */
  private bindings(name: string, scope: Scope | undefined): string[] {
    const found: string[] = [];
    for (let s = scope; s; s = s.parent) {
      const v = s.vars.get(name);
      if (v !== undefined) found.push(v);
    }
    return found;
  }

  private node(node: Node, input: string, scope: Scope): string {
    if (
      node.stages ||
      node.predicate ||
      node.group ||
      node.tuple ||
      node.focus ||
      node.index ||
      node.keepSingletonArray ||
      node.keepArray
    ) {
      // Stryker disable next-line StringLiteral: equivalent, the reason is for a reader; compileToFunction answers only undefined.
      throw new Unsupported(`${node.type} with predicates, grouping or focus`);
    }
    switch (node.type) {
      case "string":
      case "number":
      case "value":
        return JSON.stringify(node.value);
      case "variable":
        return this.variable(String(node.value), input, scope);
      case "name": {
        return this.byName(input, String(node.value));
      }
      case "path":
        return this.path(node, input, scope);
      case "condition":
        return this.condition(node, input, scope);
      case "binary":
        return this.binary(node, input, scope);
      case "unary":
        if (node.value === "[") return this.array(node, input, scope);
        if (node.value === "{") return this.object(node, input, scope);
        // Stryker disable next-line StringLiteral: equivalent, the reason is for a reader; compileToFunction answers only undefined.
        throw new Unsupported(`unary ${String(node.value)}`);
      case "block":
        return this.block(node, input, scope);
      case "bind": {
        const value = this.node(node.rhs!, input, scope);
        const t = this.fresh();
        this.emit(`const ${t} = ${value};`);
        // boundNames() declared it; a binding it missed is left to the interpreter, not miscompiled.
        const v = scope.vars.get(String((node.lhs as Node).value));
        // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent while boundNames() finds every binding; this guards the day it does not.
        if (v === undefined) throw new Unsupported("a binding outside its block's scan");
        this.emit(`${v} = ${t};`);
        return t;
      }
      case "function": {
        // A call of a function held in a variable: anything else (a lambda, a path) is not one of these.
        const name = node.procedure?.type === "variable" ? String(node.procedure.value) : "";
        const fn = functions.get(name);
        const given = node.arguments ?? [];
        // A wrong count of arguments is the interpreter's error to report.
        // Stryker disable next-line StringLiteral: equivalent, the reason is for a reader; compileToFunction answers only undefined.
        if (!fn?.arity.includes(given.length)) throw new Unsupported(`function $${name} with ${given.length} arguments`);
        const args = given.map((argument) => this.node(argument, input, scope));
        const key = given[1];
        if (name === "lookup" && key?.type === "string") {
          // A key written in the mapping (`$lookup($, "urn:…:User")`): read as a name step is.
          return this.byName(args[0]!, String(key.value));
        }
        const t = this.fresh();
        this.emit(`const ${t} = ${fn.call(args)};`);
        return t;
      }
      default:
        throw new Unsupported(node.type);
    }
  }

  /** `key` of a value: read by name when it is an object, through lookup() (which maps over arrays) otherwise. */
  private byName(of: string, key: string): string {
    const literal = JSON.stringify(key);
    const t = this.fresh();
    const isObject = `${of} !== null && typeof ${of} === "object" && !Array.isArray(${of})`;
    this.emit(`const ${t} = ${isObject} ? collapse(${of}[${literal}]) : collapse(lookup(${of}, ${literal}));`);
    return t;
  }

  private variable(name: string, input: string, scope: Scope): string {
    if (name === "") return input;
    if (name === "$") {
      this.readsRoot = true;
      return "root";
    }
    const held = this.bindings(name, scope);
    if (held.length === 0) {
      // Stryker disable next-line StringLiteral: equivalent, the reason is for a reader; compileToFunction answers only undefined.
      if (BUILT_INS.has(name)) throw new Unsupported(`$${name} as a value`);
      return "undefined";
    }
    // Innermost first; the outermost is never unset (see scope()).
    const outermost = held.pop()!;
    const t = this.fresh();
    this.emit(`const ${t} = ${held.map((v) => `${v} !== UNSET ? ${v} : `).join("")}${outermost};`);
    return t;
  }

  private block(node: Node, input: string, scope: Scope): string {
    const t = this.fresh();
    this.emit(`let ${t};`);
    this.emit("{");
    const expressions = node.expressions ?? [];
    const inner = this.scope(boundNames(expressions), scope);
    let last = "undefined";
    for (const expression of expressions) last = this.node(expression, input, inner);
    this.emit(`${t} = ${last};`);
    this.emit("}");
    return t;
  }

  private path(node: Node, input: string, scope: Scope): string {
    const steps = node.steps ?? [];
    for (const step of steps) {
      // Stryker disable next-line StringLiteral: equivalent, the reason is for a reader; compileToFunction answers only undefined.
      if (step.stages || step.tuple || step.focus || step.index || step.group)
        // Stryker disable next-line StringLiteral: equivalent, the reason is for a reader; compileToFunction answers only undefined.
        throw new Unsupported("path step with predicates or binding");
    }
    const firstIsVariable = steps[0]?.type === "variable";
    const t = this.fresh();
    this.emit(`let ${t};`);
    // Most paths are plain property hops (`name.givenName`, `meta.created`), or hops from a
    // variable (`$enterprise.manager.value`), over objects: read them directly, and leave the
    // sequence machinery to paths that meet an array on the way.
    // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator: equivalent, a first name step taken as the start reads the same, and a variable left among the hops leaves the path to the general code.
    const fromVariable = firstIsVariable && steps.length > 1;
    // Stryker disable next-line MethodExpression: equivalent, a variable left among the hops leaves the path to the general code.
    const hops = fromVariable ? steps.slice(1) : steps;
    // Stryker disable next-line ConditionalExpression,EqualityOperator,ArrowFunction,StringLiteral,MethodExpression: equivalent, with the fast path off the general code answers the same.
    if (hops.length > 0 && hops.every((step) => step.type === "name")) {
      const start = fromVariable ? this.node(steps[0]!, input, scope) : input;
      const slow = this.fresh();
      const label = this.fresh("L");
      this.emit(`let ${slow} = false;`);
      // Stryker disable next-line StringLiteral: equivalent, a path that does not start falls back to namePath().
      this.emit(`${t} = ${start};`);
      this.emit(`${label}: {`);
      for (const hop of hops) {
        this.emit(`if (${t} === null || typeof ${t} !== "object" || Array.isArray(${t})) { ${slow} = true; break ${label}; }`);
        this.emit(`${t} = ${t}[${JSON.stringify(String(hop.value))}];`);
        // Stryker disable next-line StringLiteral: equivalent, the next hop falls back to namePath(), which finds nothing either.
        this.emit(`if (${t} === undefined) break ${label};`);
      }
      this.emit("}");
      const keys = this.constant(JSON.stringify(hops.map((hop) => String(hop.value))));
      this.emit(`if (${slow}) ${t} = namePath(${start}, ${fromVariable}, ${keys});`);
    } else {
      this.sequencePath(steps, firstIsVariable, input, scope, t);
    }
    return t;
  }

  /**
   * A path as the interpreter runs it: each step over every item the previous one produced,
   * arrays flattened into one sequence. A step that produces one value passes it on as it is,
   * so a path through one object or one array builds no sequence.
   */
  private sequencePath(steps: Node[], firstIsVariable: boolean, input: string, scope: Scope, target: string): void {
    const label = this.fresh("L");
    const items = this.fresh("items");
    const single = this.fresh("single");
    this.emit(`${label}: {`);
    // A step runs over an array (`items`), or over one value (`single`) while `items` is undefined.
    this.emit(`let ${items} = ${firstIsVariable ? "undefined" : `Array.isArray(${input}) ? ${input} : undefined`}, ${single} = ${input};`);
    steps.forEach((step, index) => {
      const [produced, only, result] = [this.fresh("n"), this.fresh("only"), this.fresh("seq")];
      const [k, end, item] = [this.fresh("k"), this.fresh("end"), this.fresh("x")];
      this.emit(`let ${produced} = 0, ${only}, ${result};`);
      this.emit(`for (let ${k} = 0, ${end} = ${items} === undefined ? 1 : ${items}.length; ${k} < ${end}; ${k}++) {`);
      this.emit(`const ${item} = ${items} === undefined ? ${single} : ${items}[${k}];`);
      const value = this.node(step, item, scope);
      this.emit(`if (${value} === undefined) continue;`);
      this.emit(`if (++${produced} === 1) { ${only} = ${value}; continue; }`);
      this.emit(`if (${produced} === 2) { ${result} = sequence(); pushStep(${result}, ${only}); }`);
      this.emit(`pushStep(${result}, ${value});`);
      this.emit("}");
      this.emit(`if (${produced} === 0) { ${target} = undefined; break ${label}; }`);
      if (index === steps.length - 1) {
        // The interpreter keeps a single array produced by the last step as it is.
        this.emit(`${target} = ${produced} === 1 ? (isSequence(${only}) ? collapse(${only}) : ${only}) : collapse(${result});`);
        return;
      }
      this.emit(`if (${produced} > 1) ${items} = ${result};`);
      this.emit(`else if (Array.isArray(${only}) && !${only}[CONS]) ${items} = ${only};`);
      this.emit(`else { ${items} = undefined; ${single} = ${only}; }`);
    });
    this.emit("}");
  }

  /** A test on a node's value: its truth as `$boolean` has it, read directly when it is a boolean already. */
  private truth(node: Node, value: string): string {
    // Every operator compiled (see binary()) gives a boolean, and so does $exists.
    const isBoolean = node.type === "binary" || (node.type === "function" && node.procedure?.value === "exists");
    return isBoolean ? value : `toBoolean(${value})`;
  }

  private condition(node: Node, input: string, scope: Scope): string {
    const test = this.node(node.condition!, input, scope);
    const t = this.fresh();
    this.emit(`let ${t};`);
    this.emit(`if (${this.truth(node.condition!, test)}) {`);
    this.emit(`${t} = ${this.node(node.then!, input, scope)};`);
    this.emit("}");
    if (node.else) {
      this.emit("else {");
      this.emit(`${t} = ${this.node(node.else, input, scope)};`);
      this.emit("}");
    }
    return t;
  }

  private binary(node: Node, input: string, scope: Scope): string {
    const operator = node.value;
    if (operator !== "=" && operator !== "!=" && operator !== "and" && operator !== "or") {
      // Stryker disable next-line StringLiteral: equivalent, the reason is for a reader; compileToFunction answers only undefined.
      throw new Unsupported(`operator ${String(operator)}`);
    }
    const left = this.node(node.lhs as Node, input, scope);
    const t = this.fresh();
    if (operator === "=" || operator === "!=") {
      const right = this.node(node.rhs!, input, scope);
      // Against a string, number, boolean or null written in the mapping, deep equality is identity.
      // Stryker disable next-line ArrayDeclaration,StringLiteral: equivalent, deepEqual() answers the same for a literal, only slower.
      const literal = ["string", "number", "value"].includes(node.rhs!.type);
      const equal = literal
        ? `${left} ${operator === "=" ? "===" : "!=="} ${right}`
        : `deepEqual(${left}, ${right}) === ${operator === "="}`;
      this.emit(`const ${t} = ${left} === undefined || ${right} === undefined ? false : ${equal};`);
      return t;
    }
    // `and` and `or` evaluate their right side only when the left one does not decide.
    const and = operator === "and";
    this.emit(`let ${t} = ${!and};`);
    this.emit(`if (${and ? "" : "!"}(${this.truth(node.lhs as Node, left)})) {`);
    this.emit(`${t} = ${this.truth(node.rhs!, this.node(node.rhs!, input, scope))};`);
    this.emit("}");
    return t;
  }

  private array(node: Node, input: string, scope: Scope): string {
    const out = this.fresh();
    this.emit(`const ${out} = [];`);
    for (const expression of node.expressions ?? []) {
      const value = this.node(expression, input, scope);
      // The interpreter keeps a nested item whole when its node's value is "[" (an array
      // constructor); an object constructor's value is never an array, nor is a string's.
      // Stryker disable next-line ConditionalExpression,LogicalOperator,StringLiteral: equivalent for "{", pushItem() adds a non-array whole.
      const whole = expression.value === "[" || expression.value === "{";
      const add = whole ? `${out}.push(${value})` : `pushItem(${out}, ${value})`;
      this.emit(`if (${value} !== undefined) ${add};`);
    }
    if (node.consarray === true) this.emit(`${out}[CONS] = true;`);
    return out;
  }

  /**
   * An object constructor, with its keys as literals so V8 stores each property by name instead
   * of through a keyed store with a different key each time. Keys are JSON-escaped.
   */
  private object(node: Node, input: string, scope: Scope): string {
    const pairs = (node.lhs as Node[][]).map(([key, value]) => {
      // Stryker disable next-line StringLiteral: equivalent, the reason is for a reader; compileToFunction answers only undefined.
      if (key?.type !== "string") throw new Unsupported("computed object keys");
      return { key: String(key.value), value: value! };
    });
    // The interpreter refuses a key given twice (D1009), and an assigned "__proto__" would set the
    // prototype rather than a key: both are left to it.
    // Stryker disable next-line StringLiteral: equivalent, the reason is for a reader; compileToFunction answers only undefined.
    if (new Set(pairs.map((pair) => pair.key)).size !== pairs.length) throw new Unsupported("a repeated object key");
    // Stryker disable next-line StringLiteral: equivalent, the reason is for a reader; compileToFunction answers only undefined.
    if (pairs.some((pair) => pair.key === "__proto__")) throw new Unsupported('an object key "__proto__"');
    // The interpreter evaluates an object's values concurrently (Promise.all), so which of them
    // sees a binding another one makes depends on its scheduling: left to it.
    // Stryker disable next-line StringLiteral: equivalent, the reason is for a reader; compileToFunction answers only undefined.
    if (boundNames(pairs.map((pair) => pair.value)).size > 0) throw new Unsupported("a binding among an object's values");
    this.emit(`if (Array.isArray(${input})) throw new Unsupported("object constructor over an array input");`);
    const out = this.fresh();
    this.emit(`const ${out} = {};`);
    for (const pair of pairs) {
      const value = this.node(pair.value, input, scope);
      this.emit(`if (${value} !== undefined) ${out}[${JSON.stringify(pair.key)}] = ${value};`);
    }
    return out;
  }
}

/** A compiled record mapping, or undefined when the expression leaves the subset. */
export function compileToFunction(ast: unknown): ((input: Value) => Value) | undefined {
  const generator = new Generator();
  let body: string;
  try {
    body = generator.program(ast as Node);
  } catch (error) {
    if (error instanceof Unsupported) return undefined;
    throw error;
  }
  // Strict, so that a variable the generator failed to declare is an error rather than a global.
  // Stryker disable next-line StringLiteral: equivalent, every line ends in a semicolon.
  const source = `${generator.prelude.join("\n")}\nreturn function mapping(root) {\n"use strict";\n${body}\n};`;
  const build = new Function(`{ ${Object.keys(runtime).join(", ")} }`, source);
  return (build as (helpers: typeof runtime) => (input: Value) => Value)(runtime);
}
