import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadIntegrations } from "@unifold/engine";
import { compileToFunction } from "@unifold/mapping";
import { type RunningSandbox, startSandbox } from "@unifold/sandbox";
import fc from "fast-check";
import jsonata from "jsonata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mappingsDir } from "./harness.ts";

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
  });
  afterAll(() => sandbox.close());

  /** Raw upstream records by integration and response-mapping file. */
  const samples = (): [string, string, unknown[]][] => {
    const out: [string, string, unknown[]][] = [];
    for (const tenant of ["acme", "globex"]) {
      const jostle = sandbox.jostle.tenant(tenant);
      const postman = sandbox.postman.tenant(tenant);
      const jc = sandbox.jumpcloud.tenant(tenant);
      out.push(["jostle-scim", "users.jsonata", jostle.users.all()]);
      out.push(["postman-scim", "users.jsonata", postman.users.all()]);
      out.push(["postman-scim", "groups.jsonata", postman.groups.all()]);
      out.push(["postman-scim", "group_members.jsonata", postman.groups.all().flatMap((g) => g.members)]);
      out.push(["jumpcloud", "users.jsonata", jc.users.all()]);
      out.push(["jumpcloud", "employees.jsonata", jc.users.all()]);
      out.push(["jumpcloud", "groups.jsonata", jc.groups.all()]);
      out.push([
        "jumpcloud",
        "group_members.jsonata",
        [...jc.members.values()].flatMap((ids) => [...ids].map((id) => ({ to: { id, type: "user" }, attributes: {} }))),
      ]);
      out.push(["jumpcloud", "organizations.jsonata", [jc.organization]]);
      out.push(["jumpcloud", "roles.jsonata", jc.roles]);
    }
    return out;
  };

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
