import fc from "fast-check";
import jsonata from "jsonata";
import { describe, expect, it } from "vitest";
import { compileToFunction, Unsupported } from "../src/compile.ts";

const input = {
  id: "u1",
  name: { givenName: "Ada", familyName: "Lovelace" },
  emails: [{ value: "a@x", primary: true }, { value: "b@x" }],
  tags: ["x", "y"],
  empty: "",
  oneGroup: [{ ids: ["g1"] }],
  twoGroups: [{ ids: ["g1"] }, { ids: ["g2"] }],
};

// Each expression runs through the compiled function and the interpreter; the outputs must be equal.
const expressions = [
  // Scopes: an inner block's binding shadows the outer one only inside it.
  '($a := "outer"; {"inner": ($a := "inner"; $a), "after": $a})',
  '($a := id; ($b := name.givenName; {"a": $a, "b": $b}))',
  '($a := "x"; ($a := undefined_field; {"a": $a}))',
  '{ "unbound": $nothing }',
  // A read before its block binds the name sees the outer binding; a binding inside a path's
  // steps is seen by the next item; each side of "=" is read before the other is evaluated.
  "($a := 1; ($b := $a; $a := 2; [$b, $a]))",
  "($a := 1; [($a := 2), $a])",
  "($x := 1; $x = ($x := 2))",
  // Three blocks binding one name; a name bound only inside a block is not seen after it; a
  // read before any binding of the name; a binding inside a function's argument.
  "($a := 1; ($a := 2; ($b := $a; $a := 3; [$b, $a])))",
  '{"inner": ($b := 1; $b), "after": $b}',
  "($e := $exists($later); $later := 1; $e)",
  '{"empty": ()}',
  "($e := $exists($y := id) and $y; [$e, $y])",
  "$a := id",
  // Deep equality of constructed values (never the same object), and against null.
  '{"o": {"a": 1} = {"a": 1}, "v": {"a": 1} = {"a": 2}, "k": {"a": 1} = {"b": 1}, "n": {"a": 1} = {"a": 1, "b": 2}}',
  '{"n1": {"a": null} = {"a": {}}, "n2": {"a": {}} = {"a": null}, "n3": {"a": null} = {"a": null}}',
  '{"a": [1, 2] = [1, 2], "ao": [1] = {"0": 1}, "deep": {"a": [1, {"b": null}]} = {"a": [1, {"b": null}]}, "null": empty = null}',
  // Truth of the values functions give.
  '{"e": $append([], []) ? "y" : "n", "o": $lookup({"o": {}}, "o") ? "y" : "n"}',
  '{"c": $count(tags) ? "some" : "none", "z": $count(missing) ? "some" : "none", "l": $lookup(name, "givenName") ? "y" : "n"}',
  // `$$` is the mapping's input, also inside a path over an array.
  '{"root": $$.id, "each": emails.($$.id), "inner": name.{"id": $$.id, "given": givenName}}',
  // Object constructors with keys that need escaping, or that name Object.prototype's members.
  '{"we\\"ird\\\\key": id, "line\\nbreak": 1, "constructor": id, "toString": name.givenName}',
  '{"nested": {"n": {"m": [emails.{"v": value, "p": primary = true}]}}}',
  '[tags.{"t": $}]',
  '{"root": $.id, "count": $count(emails), "joined": $join(tags, "+")}',
  // Boolean operators, on values of every kind.
  '{"and": id and name.givenName, "andFalse": id and empty, "andMissing": id and missing, "or": empty or missing, "orTrue": empty or id}',
  '{"t": tags ? "some" : "none", "e": [] ? "some" : "none", "z": 0 ? "y" : "n", "s": empty ? "y" : "n", "o": name ? "y" : "n"}',
  '{"noElse": missing ? "x", "elseOnly": missing ? "x" : "y"}',
  // Equality on strings, numbers, booleans, objects, arrays and missing values.
  '{"s": id = "u1", "n": $count(tags) = 2, "b": name.givenName = "Ada", "ne": id != "u2", "m": missing = missing, "mm": missing != "x"}',
  '{"obj": name = name, "arr": tags = tags, "objNe": name != name, "mixed": tags = "x"}',
  // Functions over present, missing and array values.
  '{"e1": $exists(id), "e2": $exists(missing), "e3": $exists(empty), "c1": $count(missing), "c2": $count(id), "c3": $count(tags)}',
  '{"l": $lookup(name, "givenName"), "lm": $lookup(name, "nope"), "a": $append(tags, "z"), "am": $append(missing, tags), "j": $join(missing, ",")}',
  // Paths through arrays flatten, as JSONata's do.
  '{"values": emails.value, "primaries": emails.primary, "deep": emails.nothing}',
  // A path through an array whose last step gives one array keeps it whole; two are flattened.
  '{"one": oneGroup.ids, "two": twoGroups.ids, "fromVariable": ($g := oneGroup; $g.ids), "lookedUp": $lookup(oneGroup, "ids")}',
];

// Outside the compiled subset: each must be declined (undefined), so the interpreter runs it.
const declined = [
  "a > 1",
  "$x[0]",
  "emails[0]",
  "emails[primary = true].value",
  "$uppercase(id)",
  "-id",
  'id & "x"',
  "id + 1",
  "$string(1)",
  '{id: "computed key"}',
  "emails^(value)",
  "function($x) { $x }",
  "emails#$i.value",
  "emails@$e.value",
  "emails{value: primary}",
  "emails.value[0]",
  "(id; name)[0]",
  // JSONata's own functions read as values, not called.
  "[$lookup]",
  '{"f": $string}',
  "[$contains]",
  '{"f": $type}',
  "[$millis]",
  // Calls with a count of arguments the function does not take, and of functions that do not exist.
  "$exists()",
  "$count(id, id)",
  "$lookup(name)",
  "$toString(id)",
  "$constructor(id)",
  // Bindings among an object's values: the interpreter evaluates them concurrently.
  'emails.{"seen": $x, "now": $x := value}',
  '{"e": $exists($y := id) and $y, "y": $y}',
];

describe("compiled mappings", () => {
  it("runs over an array input as the interpreter does, and leaves `$$` over one to it", async () => {
    const items = [{ a: { k: 1 } }, { a: { k: 2 } }];
    for (const expression of ["a.k", "($v := a; $v.k)", "$.a"]) {
      const expected = JSON.stringify(await jsonata(expression).evaluate(items));
      expect(JSON.stringify(compileToFunction(jsonata(expression).ast())!(items)), expression).toBe(expected);
    }
    expect(() => compileToFunction(jsonata("$$.a").ast())!(items)).toThrow(Unsupported);
    // An object constructor over an array groups, in the interpreter.
    expect(() => compileToFunction(jsonata('{"k": a}').ast())!(items)).toThrow(Unsupported);
  });

  it.each(['{"k": id, "k": name.givenName}', '{"__proto__": id}', '{"a": 1, "__proto__": id}'])(
    "leaves %s to the interpreter",
    (expression) => {
      // The interpreter refuses a repeated key; an assigned __proto__ would set a prototype, not a key.
      expect(compileToFunction(jsonata(expression).ast())).toBeUndefined();
    },
  );

  it.each(declined)("declines %s", (expression) => {
    expect(compileToFunction(jsonata(expression).ast())).toBeUndefined();
  });

  it.each(expressions)("answers %s as the interpreter does", async (expression) => {
    const ast = jsonata(expression).ast();
    const compiled = compileToFunction(ast);
    expect(compiled, "the expression is in the compiled subset").toBeDefined();
    const expected = await jsonata(expression).evaluate(input);
    expect(JSON.stringify(compiled!(input))).toBe(JSON.stringify(expected));
  });
});

/*
 * A differential test: every construct of the compiled subset, over records whose fields take
 * values of every JSON kind (and are missing), must answer exactly as the JSONata interpreter
 * does, or fail where it fails.
 */
describe("compiled mappings over generated records", () => {
  const value = fc
    .constantFrom<unknown>(
      undefined,
      null,
      "",
      "s",
      "t",
      0,
      1,
      2.5,
      true,
      false,
      [],
      [1],
      ["x", "y"],
      [null],
      {},
      { k: 1 },
      { k: "v", c: "deep" },
      [{ x: 1 }, { x: [2, 3] }, { y: 1 }],
      [{ x: "a" }, { x: "b" }],
      [{ x: "a" }, { x: "b" }, { x: "c" }],
      [{ x: { y: 1 } }, { x: { y: 2 } }],
      [{ x: { y: "deep" } }],
      // Equal-looking values of different kinds, and arrays whose truth depends on every item.
      { "0": 1 },
      { k: 2 },
      { k: 1, j: 1 },
      [0, 1],
      [false, true],
      [0, ""],
      [[], {}],
      "1",
    )
    .map((v) => structuredClone(v));
  const record = fc.record({ a: value, b: value, c: value, arr: value, obj: value }, { requiredKeys: [] });
  const differential = [
    "a",
    "a.k",
    "arr.x",
    "arr.x.y",
    "$.a",
    "a = b",
    "a != b",
    "a = 1",
    'a = "s"',
    "a = true",
    "a and b",
    "a or b",
    "a and b or c",
    'a ? "yes" : "no"',
    "a ? b",
    "a ? b : c",
    "$exists(a)",
    "$exists(arr.x)",
    "$count(a)",
    "$count(arr.x)",
    '$lookup(obj, "k")',
    '$lookup(arr, "x")',
    "$append(a, b)",
    "$append(arr.x, a)",
    '$join(a, ",")',
    "$join(arr.x)",
    '$join([a, b], " ")',
    "$join(a, b)",
    "$append(a, [b])",
    "$append([a], b)",
    '$lookup(a, "k")',
    '$lookup(obj, $join(["k"]))',
    "[[a], [b, c]]",
    'arr.{"v": x}.v',
    'nothing.{"v": 1}',
    // An array constructor's array is one step value, kept whole.
    "arr.[x]",
    '($v := arr; $v.{"k": x})',
    // Equality against literals of each kind, on both sides.
    'a = "s" or b != 1 or c = true or a != false',
    '"s" = a',
    "a = null",
    "$$.a",
    '($v := a; ($w := $v; $v := b; {"w": $w, "v": $v}))',
    '[arr.{"v": x}, {"o": a}, "s"]',
    '{"x": a, "y": b, "z": obj.k}',
    "[a, b]",
    "[a]",
    "[arr.x]",
    'arr.{"v": x}',
    '($v := a; {"v": $v, "w": $v = b})',
    // Paths from a variable: read straight through objects, through the sequence machinery otherwise.
    "($v := obj; $v.k)",
    "($v := a; $v.k.j)",
    "($v := arr; $v.x)",
    "$.obj.k",
    "($v := undefined_field; $v.k)",
    '{"n": null, "t": true, "f": false, "s": "lit", "i": 7}',
  ];
  const outcome = async (run: () => unknown) => {
    try {
      return { value: JSON.stringify(await run()) };
    } catch (error) {
      // An input the compiled form declines at run time goes to the interpreter (index.ts).
      if (error instanceof Unsupported) return "declined";
      return { error: true };
    }
  };

  it.each(differential)("%s", async (expression) => {
    const compiled = compileToFunction(jsonata(expression).ast());
    expect(compiled, "the expression is in the compiled subset").toBeDefined();
    await fc.assert(
      fc.asyncProperty(record, async (input) => {
        const fast = await outcome(() => compiled!(input));
        if (fast === "declined") return;
        expect(fast, JSON.stringify(input)).toEqual(await outcome(() => jsonata(expression).evaluate(input)));
      }),
      { numRuns: 150, seed: 11 },
    );
  });
});
