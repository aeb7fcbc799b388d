import { describe, expect, it } from "vitest";
import { compileMapping, MappingError, MappingSyntaxError, mapRecords } from "../src/index.ts";

describe("JSONata mappings", () => {
  it("names the file and the character position of a syntax error", () => {
    expect(() => compileMapping('{ "id": id, }', "mappings/x/users.jsonata")).toThrow(MappingSyntaxError);
    try {
      compileMapping('{ "id": id, }', "mappings/x/users.jsonata");
    } catch (error) {
      expect((error as MappingSyntaxError).position).toBeGreaterThan(0);
      expect((error as Error).message).toMatch(/^mappings\/x\/users\.jsonata at character \d+: /);
    }
  });

  it("maps records in order, dropping those mapped to null", async () => {
    const mapping = compileMapping('kind = "skip" ? null : { "id": id }', "m.jsonata");
    expect(await mapRecords(mapping, [{ id: 1 }, { id: 2, kind: "skip" }, { id: 3 }])).toEqual([{ id: 1 }, { id: 3 }]);
  });

  it("fails the whole batch, naming the file, when one record's mapping throws or is not an object", async () => {
    const throwing = compileMapping('id = 2 ? $error("bad record") : { "id": id }', "users.jsonata");
    await expect(mapRecords(throwing, [{ id: 1 }, { id: 2 }])).rejects.toThrow(MappingError);
    await expect(mapRecords(throwing, [{ id: 2 }])).rejects.toThrow(/^users\.jsonata: .*bad record/);
    await expect(mapRecords(compileMapping("id", "ids.jsonata"), [{ id: 1 }])).rejects.toThrow(/ids\.jsonata: produced number/);
  });
});
