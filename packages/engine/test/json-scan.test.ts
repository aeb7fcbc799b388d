import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { scanList } from "../src/json-scan.ts";

const records = (bytes: Buffer, spans: number[]) =>
  Array.from({ length: spans.length / 2 }, (_, i) => JSON.parse(bytes.toString("utf8", spans[2 * i], spans[2 * i + 1])));

/** JSON values whose strings hold no backslash, so any mutation of the text is either valid or structurally broken. */
const { plain } = fc.letrec((tie) => ({
  plain: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.stringMatching(/^[a-z0-9 é]{0,8}$/),
    fc.array(tie("plain"), { maxLength: 4 }),
    fc.dictionary(fc.stringMatching(/^[a-z]{1,4}$/), tie("plain"), { maxKeys: 4 }),
  ),
}));

describe("scanList", () => {
  it("finds every record of a page, whatever the values, spacing and key order", () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue(), { maxLength: 6 }),
        fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), fc.jsonValue(), { maxKeys: 3 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom(undefined, 2, "\t"),
        (items, extra, total, indent) => {
          const document = { ...extra, totalResults: total, Resources: items };
          const bytes = Buffer.from(JSON.stringify(document, null, indent));
          const scanned = scanList(bytes, "Resources", "totalResults");
          expect(scanned).toBeDefined();
          expect(records(bytes, scanned!.spans)).toEqual(JSON.parse(bytes.toString()).Resources);
          expect(scanned!.total).toBe(total);
          const bare = Buffer.from(JSON.stringify(items, null, indent));
          expect(records(bare, scanList(bare, undefined)!.spans)).toEqual(JSON.parse(bare.toString()));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("accepts a mutated page exactly when JSON.parse does, and reads the same records and total", () => {
    fc.assert(
      fc.property(
        fc.array(plain, { maxLength: 5 }),
        fc.nat(),
        fc.constantFrom("delete", "insert", "substitute"),
        fc.constantFrom(...'{}[],:"0123456789-.eEtrufalsn xabc'.split("")),
        // SCIM's own order puts the total before the records; others put it after.
        fc.boolean(),
        (items, at, how, char, totalFirst) => {
          const text = JSON.stringify(totalFirst ? { total: items.length, results: items } : { results: items, total: items.length });
          const cut = at % (text.length + 1);
          const mutated =
            how === "delete"
              ? text.slice(0, cut) + text.slice(cut + 1)
              : how === "insert"
                ? text.slice(0, cut) + char + text.slice(cut)
                : text.slice(0, cut) + char + text.slice(cut + 1);
          let parsed: unknown;
          try {
            parsed = JSON.parse(mutated);
          } catch {
            parsed = undefined;
          }
          const scanned = scanList(Buffer.from(mutated), "results", "total");
          const shaped =
            parsed !== null &&
            typeof parsed === "object" &&
            !Array.isArray(parsed) &&
            ((parsed as { results?: unknown }).results === undefined || Array.isArray((parsed as { results?: unknown }).results));
          if (!shaped) {
            expect(scanned, mutated).toBeUndefined();
          } else {
            expect(scanned, mutated).toBeDefined();
            expect(records(Buffer.from(mutated), scanned!.spans)).toEqual((parsed as { results?: unknown[] }).results ?? []);
            const total = (parsed as { total?: unknown }).total;
            if (total === undefined || total === null || typeof total === "number" || typeof total === "string") {
              const expected = total === undefined || total === null ? undefined : Number(total);
              expect(scanned!.total, mutated).toBe(Number.isFinite(expected) ? expected : undefined);
            }
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("accepts a string's escapes exactly when JSON.parse does", () => {
    const escapes = fc.oneof(
      fc.constantFrom(...'"\\/bfnrt'.split("")).map((c) => `\\${c}`),
      fc.stringMatching(/^[0-9a-fA-F]{4}$/).map((hex) => `\\u${hex}`),
      // What JSON does not have: other letters, short or non-hex \u sequences.
      fc.constantFrom("\\x", "\\a", "\\U0041", "\\u12G4", "\\u00", "\\ug000", "\\u00:0", "\\u@000", "\\u`000", "\\ "),
      fc.stringMatching(/^[a-z ]{0,3}$/),
    );
    fc.assert(
      fc.property(fc.array(escapes, { maxLength: 4 }), fc.boolean(), (pieces, asKey) => {
        const inner = pieces.join("");
        const text = asKey ? `{"results":[{"${inner}":1}]}` : `{"results":[{"name":"${inner}"}]}`;
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        const scanned = scanList(Buffer.from(text), "results");
        if (parsed === undefined) expect(scanned, text).toBeUndefined();
        else expect(records(Buffer.from(text), scanned!.spans), text).toEqual((parsed as { results: unknown[] }).results);
      }),
      { numRuns: 2000 },
    );
  });

  it("reads empty documents, and a byte-order mark only when it is whole", () => {
    for (const empty of ["{}", "{ }", " {\n} ", '{"total":3}'])
      expect(scanList(Buffer.from(empty), "results", "total")?.spans, empty).toEqual([]);
    expect(scanList(Buffer.from("[]"), undefined)?.spans).toEqual([]);
    expect(scanList(Buffer.from('{"results":5}'), "results")).toBeUndefined();
    const body = Buffer.from('[{"a":1}]');
    for (const partial of [[0xef], [0xef, 0xbb], [0xbb, 0xbf], [0xef, 0xbf], [0x00, 0xbb, 0xbf]]) {
      expect(scanList(Buffer.concat([Buffer.from(partial), body]), undefined), String(partial)).toBeUndefined();
    }
    expect(
      records(
        Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]),
        scanList(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]), undefined)!.spans,
      ),
    ).toEqual([{ a: 1 }]);
  });

  it("takes the last of duplicate keys, skips a byte-order mark and refuses trailing bytes", () => {
    const dup = Buffer.from('{"results":[1],"results":[2,3]}');
    expect(records(dup, scanList(dup, "results")!.spans)).toEqual([2, 3]);
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('[{"a":"\\"x\\\\"}]')]);
    expect(records(bom, scanList(bom, undefined)!.spans)).toEqual([{ a: '"x\\' }]);
    expect(scanList(Buffer.from('{"results":[]} x'), "results")).toBeUndefined();
    expect(scanList(Buffer.from('{"results":null}'), "results")).toBeUndefined();
    expect(scanList(Buffer.from('{"total":"7","results":[]}'), "results", "total")?.total).toBe(7);
    // Literals are checked letter by letter, and brackets must match.
    for (const bad of ['{"results":[tabc]}', '{"results":[{"a":1]]}', '{"results":[nul]}', '{"results":[1}', '{"results":[1,]}'])
      expect(scanList(Buffer.from(bad), "results"), bad).toBeUndefined();
    // The total is read wherever it stands, before the records or after.
    expect(scanList(Buffer.from('{"totalResults":5,"itemsPerPage":1,"Resources":[{}]}'), "Resources", "totalResults")?.total).toBe(5);
    expect(scanList(Buffer.from('{"Resources":[{}],"totalResults":5,"itemsPerPage":1}'), "Resources", "totalResults")?.total).toBe(5);
    // An escaped key might be the records' key: the scan declines, so the page is parsed instead.
    expect(scanList(Buffer.from('{"\\u0072esults":[1]}'), "results")).toBeUndefined();
  });
});
