import jsonata from "jsonata";
import { describe, expect, it } from "vitest";
import { compileToFunction } from "../src/index.ts";

const input = {
  id: "u1",
  name: { givenName: "Ada", familyName: "Lovelace" },
  emails: [{ value: "a@x", primary: true }, { value: "b@x" }],
  tags: ["x", "y"],
  empty: "",
};

// Each expression runs through the compiled function and the interpreter; the outputs must be equal.
const expressions = [
  // Scopes: an inner block's binding shadows the outer one only inside it.
  '($a := "outer"; {"inner": ($a := "inner"; $a), "after": $a})',
  '($a := id; ($b := name.givenName; {"a": $a, "b": $b}))',
  '($a := "x"; ($a := undefined_field; {"a": $a}))',
  '{ "unbound": $nothing }',
  // Object constructors with keys that need escaping, or that name Object.prototype's members.
  '{"we\\"ird\\\\key": id, "line\\nbreak": 1, "constructor": id, "toString": name.givenName}',
  '{"nested": {"n": {"m": [emails.{"v": value, "p": primary = true}]}}}',
  '[tags.{"t": $}]',
  '{"root": $.id, "count": $count(emails), "joined": $join(tags, "+")}',
];

describe("compiled mappings", () => {
  it.each(['{"k": id, "k": name.givenName}', '{"__proto__": id}'])("leaves %s to the interpreter", (expression) => {
    // The interpreter refuses a repeated key; an assigned __proto__ would set a prototype, not a key.
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
