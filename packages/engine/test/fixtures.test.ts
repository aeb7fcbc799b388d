import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadIntegrations, resourceModels, type UnifiedResource, unifyRecords } from "../src/index.ts";

/**
 * Every integration's golden fixtures (`mappings/<slug>/fixtures/*.json`): a vendor record, the
 * operations whose response mapping it goes through, and the unified object expected from each
 * (null where the mapping drops the record). Adding an integration adds fixtures, not test code.
 */
interface Fixture {
  description: string;
  resource: UnifiedResource;
  operations: ("list" | "get" | "create" | "update")[];
  vendor: unknown;
  unified: Record<string, unknown> | null;
}

const mappingsDir = fileURLToPath(new URL("../../../mappings", import.meta.url));
const integrations = loadIntegrations(mappingsDir);

for (const [slug, integration] of integrations) {
  const dir = join(mappingsDir, slug, "fixtures");
  const fixtures = existsSync(dir)
    ? readdirSync(dir)
        .filter((file) => file.endsWith(".json"))
        .map((file) => ({ file, ...(JSON.parse(readFileSync(join(dir, file), "utf8")) as Fixture) }))
    : [];

  describe(`${slug} golden fixtures`, () => {
    it("cover every operation that maps a vendor record", () => {
      const covered = new Set(fixtures.flatMap((f) => f.operations.map((op) => `${f.resource}.${op}`)));
      const mapped = Object.entries(integration.resources).flatMap(([resource, ops]) =>
        Object.entries(ops ?? {})
          .filter(([, op]) => op?.response_mapping)
          .map(([kind]) => `${resource}.${kind}`),
      );
      expect(mapped.length).toBeGreaterThan(0);
      expect(mapped.filter((key) => !covered.has(key))).toEqual([]);
    });

    for (const fixture of fixtures) {
      it(`${fixture.file}: ${fixture.description}`, async () => {
        const model = resourceModels[fixture.resource].schema;
        // The expectation itself is on-model: every field of the model, each value allowed by it.
        if (fixture.unified) expect(model.strict().parse(fixture.unified)).toEqual(fixture.unified);
        for (const kind of fixture.operations) {
          const op = integration.resources[fixture.resource]?.[kind];
          expect(op?.response_mapping, `${fixture.resource}.${kind} has a response mapping`).toBeDefined();
          const { objects } = await unifyRecords(integration, fixture.resource, op!, [fixture.vendor]);
          expect(objects[0] ?? null, `${fixture.resource}.${kind}`).toEqual(fixture.unified);
        }
      });
    }
  });
}
