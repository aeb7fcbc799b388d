import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadIntegrations, loadPushIntegrations, resourceModels, type UnifiedResource, unifyRecords } from "../src/index.ts";

/**
 * Every integration's golden fixtures (`mappings/<slug>/fixtures/*.json`): a vendor record, the
 * operations whose response mapping it goes through, and the unified object expected from each
 * (null where the mapping drops the record). Adding an integration adds fixtures, not test code.
 */
interface Fixture {
  description: string;
  resource: UnifiedResource;
  /** The operations whose response mapping the record goes through; `push` for a pushed resource. */
  operations: ("list" | "get" | "create" | "update" | "delta" | "push")[];
  vendor: unknown;
  unified: Record<string, unknown> | null;
}

const mappingsDir = fileURLToPath(new URL("../../../mappings", import.meta.url));
const integrations = loadIntegrations(mappingsDir);

const fixturesOf = (slug: string) => {
  const dir = join(mappingsDir, slug, "fixtures");
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((file) => file.endsWith(".json"))
        .map((file) => ({ file, ...(JSON.parse(readFileSync(join(dir, file), "utf8")) as Fixture) }))
    : [];
};

for (const [slug, integration] of integrations) {
  const fixtures = fixturesOf(slug);

  describe(`${slug} golden fixtures`, () => {
    it("cover every operation that maps a vendor record", () => {
      const covered = new Set(fixtures.flatMap((f) => f.operations.map((op) => `${f.resource}.${op}`)));
      const mapped = Object.entries(integration.resources).flatMap(([resource, ops]) =>
        Object.entries(ops ?? {})
          .filter(([, op]) => op && "response_mapping" in op && op.response_mapping)
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
          expect(kind, "a pulled integration's fixture names its operations").not.toBe("push");
          const op = integration.resources[fixture.resource]?.[kind as Exclude<typeof kind, "push">];
          const mapped = op && "response_mapping" in op ? op : undefined;
          expect(mapped?.response_mapping, `${fixture.resource}.${kind} has a response mapping`).toBeDefined();
          const { objects } = await unifyRecords(integration, fixture.resource, mapped!, [fixture.vendor]);
          expect(objects[0] ?? null, `${fixture.resource}.${kind}`).toEqual(fixture.unified);
        }
      });
    }
  });
}

// A directory that pushes: each resource's mapping from the stored resource to the unified model.
for (const [slug, integration] of loadPushIntegrations(mappingsDir)) {
  const fixtures = fixturesOf(slug);
  describe(`${slug} golden fixtures (pushed)`, () => {
    it("cover every pushed resource", () => {
      const covered = new Set(fixtures.filter((f) => f.operations.includes("push")).map((f) => f.resource));
      expect(Object.keys(integration.resources).filter((resource) => !covered.has(resource as UnifiedResource))).toEqual([]);
    });

    for (const fixture of fixtures) {
      it(`${fixture.file}: ${fixture.description}`, async () => {
        const model = resourceModels[fixture.resource].schema;
        if (fixture.unified) expect(model.strict().parse(fixture.unified)).toEqual(fixture.unified);
        const pushed = integration.resources[fixture.resource as keyof typeof integration.resources];
        expect(pushed, `${fixture.resource} is pushed`).toBeDefined();
        const { objects } = await unifyRecords(integration, fixture.resource, { response_mapping: pushed.mapping }, [fixture.vendor]);
        expect(objects[0] ?? null).toEqual(fixture.unified);
      });
    }
  });
}
