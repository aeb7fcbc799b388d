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

  it("accepts a mutated page exactly when JSON.parse does", () => {
    fc.assert(
      fc.property(
        fc.array(plain, { maxLength: 5 }),
        fc.nat(),
        fc.constantFrom("delete", "insert"),
        fc.constantFrom(...'{}[],:"0123456789-.eEtrufalsn x'.split("")),
        (items, at, how, char) => {
          const text = JSON.stringify({ total: items.length, results: items });
          const cut = at % (text.length + 1);
          const mutated = how === "delete" ? text.slice(0, cut) + text.slice(cut + 1) : text.slice(0, cut) + char + text.slice(cut);
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
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("takes the last of duplicate keys, skips a byte-order mark and refuses trailing bytes", () => {
    const dup = Buffer.from('{"results":[1],"results":[2,3]}');
    expect(records(dup, scanList(dup, "results")!.spans)).toEqual([2, 3]);
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('[{"a":"\\"x\\\\"}]')]);
    expect(records(bom, scanList(bom, undefined)!.spans)).toEqual([{ a: '"x\\' }]);
    expect(scanList(Buffer.from('{"results":[]} x'), "results")).toBeUndefined();
    expect(scanList(Buffer.from('{"results":null}'), "results")).toBeUndefined();
    expect(scanList(Buffer.from('{"total":"7","results":[]}'), "results", "total")?.total).toBe(7);
    // An escaped key might be the records' key: the scan declines, so the page is parsed instead.
    expect(scanList(Buffer.from('{"\\u0072esults":[1]}'), "results")).toBeUndefined();
  });
});
