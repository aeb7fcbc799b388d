import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  createUpstreamClient,
  loadIntegrations,
  type OperationDefinition,
  readList,
  readOne,
  renderPath,
  type UnifiedResource,
  unifyRecords,
} from "@unifold/engine";
import { compileToFunction } from "@unifold/mapping";
import { type RunningSandbox, startSandbox, type Vendor } from "@unifold/sandbox";
import fc from "fast-check";
import jsonata from "jsonata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectionTo, mappingsDir } from "./harness.ts";

/**
 * Record mappings run as compiled functions (packages/mapping/src/compile.ts). This proves they
 * answer exactly as the JSONata interpreter does: over every sandbox record of every resource,
 * and over generated variants with fields removed or replaced by odd values.
 */
describe("compiled mappings answer exactly as the JSONata interpreter", () => {
  let sandbox: RunningSandbox;
  const integrations = loadIntegrations(mappingsDir);

  beforeAll(async () => {
    sandbox = await startSandbox({
      tenants: [
        { name: "acme", users: 60 },
        { name: "globex", users: 25 },
      ],
    });
    pools = await readSamples();
  });
  afterAll(() => sandbox.close());

  /** Raw upstream records by integration and response-mapping file, read from the sandbox in beforeAll. */
  let pools: [string, string, unknown[]][] = [];
  const samples = () => pools;

  /**
   * Every record every integration with a simulator (`sandbox:` in its integration.yaml) lists,
   * read through the engine as the gateway reads it: each list, each group's members, and `me`.
   */
  async function readSamples(): Promise<[string, string, unknown[]][]> {
    const client = createUpstreamClient({ network: { allowPrivate: true }, enforceRateLimits: false });
    const byFile = new Map<string, unknown[]>();
    const add = (slug: string, files: string[] | undefined, records: unknown[]) => {
      for (const file of files ?? []) byFile.set(`${slug}\u0000${file}`, [...(byFile.get(`${slug}\u0000${file}`) ?? []), ...records]);
    };
    try {
      for (const integration of [...integrations.values()].filter((i) => i.sandbox)) {
        const vendor = integration.sandbox as Vendor;
        for (const tenant of ["acme", "globex"]) {
          const target = {
            integration,
            ...connectionTo(sandbox, integration.slug, vendor, tenant),
          };
          const readAll = async (op: OperationDefinition, params: Record<string, string>) => {
            const records: unknown[] = [];
            let position: unknown;
            do {
              const page = await readList(client, target, {
                path: renderPath(op.path, params),
                query: op.query,
                pagination: op.pagination ? integration.pagination[op.pagination] : undefined,
                records: op.records,
                position,
                limit: 200,
              });
              records.push(...page.records);
              position = page.next;
            } while (position !== undefined);
            return records;
          };
          for (const [resource, operations] of Object.entries(integration.resources) as [
            UnifiedResource,
            (typeof integration.resources)[UnifiedResource],
          ][]) {
            const list = operations?.list;
            if (list && !list.path.includes("{{")) add(integration.slug, list.response_mapping, await readAll(list, {}));
            if (!list && operations?.get && !operations.get.path.includes("{{")) {
              add(integration.slug, operations.get.response_mapping, [(await readOne(client, target, operations.get, {})).record]);
            }
            // A nested list (a group's members) is read under every parent the parent list holds.
            if (list && list.path.includes("{{id}}") && resource === "group_members") {
              const groups = integration.resources.groups!.list!;
              const { objects } = await unifyRecords(integration, "groups", groups, await readAll(groups, {}));
              for (const group of objects)
                if (group) add(integration.slug, list.response_mapping, await readAll(list, { id: String(group.id) }));
            }
          }
        }
      }
    } finally {
      await client.close();
    }
    return [...byFile].map(([key, records]) => [...(key.split("\u0000") as [string, string]), records]);
  }

  const interpreted = async (slug: string, file: string, record: unknown) => {
    try {
      return { value: JSON.stringify(await jsonata(readFileSync(join(mappingsDir, slug, file), "utf8")).evaluate(record)) };
    } catch {
      // A record the interpreter refuses must be refused by the compiled function too (index.ts then
      // re-runs it through the interpreter, so callers see the interpreter's own error).
      return { error: "threw" };
    }
  };
  // The compiled function alone (no fallback to the interpreter), so a difference cannot hide.
  const functions = new Map<string, (input: unknown) => unknown>();
  const compiled = async (slug: string, file: string, record: unknown) => {
    const key = `${slug}/${file}`;
    if (!functions.has(key)) functions.set(key, compileToFunction(jsonata(readFileSync(join(mappingsDir, slug, file), "utf8")).ast())!);
    try {
      return { value: JSON.stringify(functions.get(key)!(record)) };
    } catch {
      return { error: "threw" };
    }
  };

  it("compiles every response mapping the integrations use", () => {
    for (const [slug, integration] of integrations) {
      for (const operations of Object.values(integration.resources)) {
        for (const kind of ["list", "get", "create", "update"] as const) {
          for (const file of operations?.[kind]?.response_mapping ?? []) {
            expect(integration.mappings.get(file)!.compiled, `${slug}/${file}`).toBe(true);
          }
        }
      }
    }
  });

  it("gives the same output for every sandbox record", async () => {
    let compared = 0;
    for (const [slug, file, records] of samples()) {
      for (const record of records) {
        expect(await compiled(slug, file, record), `${slug}/${file} on ${JSON.stringify(record).slice(0, 200)}`).toEqual(
          await interpreted(slug, file, record),
        );
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(500);
    // Every read mapping of every simulated integration was run on real records.
    const sampled = new Set(
      samples()
        .filter(([, , records]) => records.length > 0)
        .map(([slug, file]) => `${slug}/${file}`),
    );
    for (const integration of [...integrations.values()].filter((i) => i.sandbox)) {
      for (const operations of Object.values(integration.resources)) {
        for (const file of [...(operations?.list?.response_mapping ?? []), ...(operations?.get?.response_mapping ?? [])]) {
          expect(sampled, `${integration.slug}/${file}`).toContain(`${integration.slug}/${file}`);
        }
      }
    }
  });

  it("gives the same output for records with fields missing, null, empty, or of another type", async () => {
    const pools = samples();
    const odd = fc.constantFrom<unknown>(undefined, null, "", "x", 0, 1, true, false, [], [null], ["a", "b"], {}, { value: "v" }, [
      { type: "work", value: "a@b.c", primary: true },
    ]);
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: pools.length - 1 }),
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), odd, fc.nat()), { maxLength: 4 }),
        async (pool, pick, edits) => {
          const [slug, file, records] = pools[pool]!;
          if (records.length === 0) return;
          const record = structuredClone(records[pick % records.length]) as Record<string, unknown>;
          for (const [at, value, depth] of edits) {
            // Replace or remove a top-level field, or one inside a nested object.
            let target: Record<string, unknown> = record;
            const keys = Object.keys(target);
            if (keys.length === 0) break;
            let key = keys[at % keys.length]!;
            const nested = target[key];
            if (depth % 2 === 1 && nested && typeof nested === "object" && !Array.isArray(nested) && Object.keys(nested).length) {
              target = nested as Record<string, unknown>;
              key = Object.keys(target)[at % Object.keys(target).length]!;
            }
            if (value === undefined) delete target[key];
            else target[key] = structuredClone(value);
          }
          expect(await compiled(slug, file, record), `${slug}/${file} on ${JSON.stringify(record)}`).toEqual(
            await interpreted(slug, file, record),
          );
        },
      ),
      { numRuns: 3000, seed: 7 },
    );
  });
});
