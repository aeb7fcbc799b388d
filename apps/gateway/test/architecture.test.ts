import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { loadIntegrations } from "@unifold/engine";
import { describe, expect, it } from "vitest";
import { mappingsDir } from "./harness.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const sourcesUnder = (dir: string): string[] =>
  readdirSync(join(root, dir), { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .map((file) => join(dir, file));

describe("the house keeps its shape", () => {
  it("names no vendor in gateway, engine, store or mapping code: vendor knowledge lives in mappings/", () => {
    const integrations = [...loadIntegrations(mappingsDir).values()];
    expect(integrations.length).toBeGreaterThan(0);
    // Each vendor's slug, its display name, and the first word of either (`jumpcloud`, `Jostle`).
    const names = new Set(integrations.flatMap((i) => [i.slug, i.name, i.slug.split(/[-_]/)[0]!, i.name.split(" ")[0]!]));
    const pattern = new RegExp(`\\b(${[...names].map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})\\b`, "i");
    const found: string[] = [];
    for (const file of ["apps/gateway/src", "packages/engine/src", "packages/db/src", "packages/mapping/src"].flatMap(sourcesUnder)) {
      const lines = readFileSync(join(root, file), "utf8").split("\n");
      lines.forEach((line, i) => {
        if (pattern.test(line)) found.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(found).toEqual([]);
  });

  it("keeps routes thin: no route file imports another, and none silences the route types with `as never`", () => {
    const routes = sourcesUnder("apps/gateway/src/routes");
    for (const file of routes) {
      const text = readFileSync(join(root, file), "utf8");
      expect(text, relative(root, file)).not.toMatch(/from "\.\/[\w-]+\.ts"/);
      expect(text, relative(root, file)).not.toMatch(/as never\b/);
    }
  });

  it("keeps HTTP out of the domain layer", () => {
    for (const file of sourcesUnder("apps/gateway/src/domain")) {
      expect(readFileSync(join(root, file), "utf8"), file).not.toMatch(/from "(hono|@hono\/[\w-]+)(\/[\w/-]+)?"/);
    }
  });
});
